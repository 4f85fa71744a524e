"""``--task forecast``: the next H values of one or more series from the last L (N→M, real values).

Data: a CSV/TSV/JSONL file with an optional time column (``--time-column``: numbers or ISO dates;
rows are sorted by it, it labels the plot and ``predict``'s output) and value columns
(``--value-column a,b``; default: all others). The rows are split in time order into train /
valid / test (the last 15 % + 15 % by default) and standardised with the training part's mean and
std (see :mod:`recur.tasks.forecast_data`).

Models (``--model``): ``rnn`` (default), a recurrent encoder of the window and a linear head
(:class:`recur.models.forecaster.RecurrentForecaster`), trained by the Trainer on the mean
squared error; ``esn``, an Echo State Network with a ridge readout fitted in closed form
(:mod:`recur.tasks.forecast_esn`; no gradient steps). ``--strategy direct`` (default) predicts
all H steps at once; ``autoregressive`` predicts one step, trains on one-step targets, and feeds
each prediction back H times.

Metrics on the test part (original units): MAE, RMSE, NRMSE, MASE, and the naive and
seasonal-naive forecasts' MAE / RMSE / MASE on the same windows (see
:mod:`recur.tasks.forecast_scores`); ``forecast.png`` draws the forecasts over the test part.

Built-in demos (no ``--data``; ``--builtin``): ``sunspots`` (default: yearly sunspot numbers
1700-2008 as shipped with statsmodels, season 11) and ``mackey-glass`` (2,000 generated samples).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field, field_validator, model_validator
from torch import Tensor, nn

from recur.data.bundled import file_digest
from recur.models.forecaster import RecurrentForecaster, forecast
from recur.plots.forecast import plot_forecast
from recur.tasks.config import RecurrentConfig, TaskConfig
from recur.tasks.examples import ExampleTask, chunks
from recur.tasks.forecast_data import (
    BUILTINS,
    Series,
    builtin_series,
    check_length,
    check_split,
    fit_scaling,
    format_time,
    future_times,
    part_origins,
    read_series,
    split_sizes,
    standardise,
    unstandardise,
    windows,
)
from recur.tasks.forecast_esn import RIDGES, ReservoirForecaster
from recur.tasks.forecast_scores import in_sample_scale, report, truths
from recur.tasks.spec import NO_HEADER, Option, Prepared, SavedRun, TaskSpec
from recur.train.config import LoopConfig, OptimConfig, Section

FORECAST_PLOT = "forecast.png"


class ForecastData(Section):
    path: str | None = Field(None, description="CSV/TSV/JSONL file (default: a built-in series)")
    builtin: Literal["sunspots", "mackey-glass"] | None = Field(
        None, description="the built-in series without path (default: sunspots)"
    )
    header: bool = Field(True, description="CSV/TSV files start with a header row")
    time_column: str | None = Field(None, description="time stamps (number or ISO date/time)")
    value_columns: list[str] | None = Field(None, description="columns to forecast (default: all)")
    lookback: int = Field(24, ge=1, description="input steps L")
    horizon: int = Field(10, ge=1, description="steps to forecast H")
    season: int | None = Field(None, ge=1, description="seasonal-naive lag m (default 1)")
    valid_fraction: float = Field(0.15, gt=0, lt=0.5, description="the rows before the test part")
    test_fraction: float = Field(0.15, gt=0, lt=0.5, description="the last rows")
    batch_size: int = Field(32, ge=1)

    @field_validator("value_columns", mode="before")
    @classmethod
    def _comma_separated(cls, value):
        if isinstance(value, str):
            value = [name.strip() for name in value.split(",")]
            if not all(value):
                raise ValueError("expected comma-separated column names, got an empty name")
        return value


class ForecastModel(RecurrentConfig):
    kind: Literal["rnn", "esn"] = "rnn"
    strategy: Literal["direct", "autoregressive"] = "direct"
    cell: str = "gru"
    hidden_size: int = Field(64, ge=1)
    reservoir_size: int = Field(300, ge=1, description="esn: reservoir units")
    spectral_radius: float = Field(0.9, gt=0, description="esn: of the reservoir matrix")
    leak_rate: float = Field(1.0, gt=0, le=1, description="esn: leaky integration")
    input_scaling: float = Field(0.5, ge=0, description="esn: half-width of W_in")
    connectivity: float = Field(0.05, gt=0, le=1, description="esn: non-zero share of W")
    ridge: float | None = Field(None, ge=0, description="esn: readout penalty (default: by valid)")


class ForecastConfig(TaskConfig):
    task: Literal["forecast"] = "forecast"
    data: ForecastData = ForecastData()
    model: ForecastModel = ForecastModel()
    # the sunspots demo has 184 training windows: a GRU fits them within 400 steps, then
    # overfits (test MASE 1.52-1.59 over 5 seeds at 400 steps, 1.6-2.5 at 500-600)
    optim: OptimConfig = OptimConfig(lr=3e-3, warmup_steps=20, weight_decay=0.1)
    train: LoopConfig = LoopConfig(max_steps=400, max_time=300.0, eval_every=100)

    @model_validator(mode="after")
    def _builtin_alone(self) -> ForecastConfig:
        data = self.data
        if data.path is not None and data.builtin is not None:
            raise ValueError("data.builtin: a built-in series is used instead of data.path")
        if data.path is None and (data.time_column or data.value_columns):
            raise ValueError("data.time_column / data.value_columns: they name columns of --data")
        return self


class Forecasting:
    """The :class:`recur.tasks.examples.Problem` of forecasting: (window, target) examples,
    the mean squared error on standardised values; evaluation rolls out all H steps."""

    loss_unit, loss_scale = "mse", 1.0

    def __init__(self, horizon: int, batch_size: int):
        self.horizon, self.batch_size = horizon, batch_size

    def collate(self, examples: Sequence[tuple[Tensor, Tensor]]) -> tuple[Tensor, Tensor]:
        return torch.stack([x for x, _ in examples]), torch.stack([y for _, y in examples])

    def loss(self, model: nn.Module, batch) -> tuple[Tensor, int]:
        inputs, targets = batch
        return F.mse_loss(model(inputs), targets), len(targets)

    def forecasts(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """(N, H, C) forecasts of (N, L, C) windows, read in batches."""
        return torch.cat([forecast(model, part, self.horizon) for part in chunks(inputs, 256)])

    def evaluate(self, model: nn.Module, examples) -> dict[str, float]:
        inputs, targets = self.collate(examples)
        return {
            "loss": float(F.mse_loss(self.forecasts(model, inputs), targets)),
            "count": len(targets),
        }


class Forecast(TaskSpec):
    name = "forecast"
    summary = "forecast the next H values of series (CSV/TSV/JSONL); demo: sunspots"
    config = ForecastConfig
    options = (
        Option("--data", "data.path", str, "training data (default: the task's built-in demo)"),
        NO_HEADER,
        Option("--builtin", "data.builtin", str, "forecast: sunspots (default) or mackey-glass"),
        Option("--time-column", "data.time_column", str, "forecast: time stamps (rows sorted)"),
        Option("--value-column", "data.value_columns", str, "forecast: columns a,b (all others)"),
        Option("--lookback", "data.lookback", int, "forecast: input steps (24)"),
        Option("--horizon", "data.horizon", int, "forecast: steps to forecast (10)"),
        Option("--season", "data.season", int, "forecast: seasonal-naive lag (1; sunspots 11)"),
        Option("--test-fraction", "data.test_fraction", float, "share held out for test"),
        Option("--model", "model.kind", str, "forecast: rnn (default) or esn"),
        Option("--strategy", "model.strategy", str, "forecast: direct (default), autoregressive"),
        Option("--reservoir-size", "model.reservoir_size", int, "esn: reservoir units (300)"),
        Option("--spectral-radius", "model.spectral_radius", float, "esn: of W (0.9)"),
        Option("--leak-rate", "model.leak_rate", float, "esn: leak rate in (0, 1] (1)"),
        Option("--ridge", "model.ridge", float, "esn: readout penalty (default: by valid)"),
    )

    # ------------------------------------------------------------------ data
    def series(self, config: ForecastConfig) -> tuple[Series, str]:
        """The configured series and the sha256 of its data."""
        data = config.data
        if data.path is None:
            return builtin_series(data.builtin or "sunspots")
        series = read_series(
            data.path,
            header=data.header,
            time_column=data.time_column,
            value_columns=data.value_columns,
        )
        return series, file_digest(data.path)

    def read(self, path, saved: SavedRun) -> Series:
        """Another file of the run's format (same time and value columns)."""
        return read_series(
            path,
            header=saved.config.data.header,
            time_column=saved.meta["time_column"],
            value_columns=saved.meta["columns"],
        )

    def fit_meta(self, series: Series, config: ForecastConfig) -> dict:
        """Split sizes, scaling and MASE scales, from the training part alone."""
        data = config.data
        default_season = BUILTINS[data.builtin or "sunspots"] if data.path is None else 1
        season = data.season or default_season
        fractions = (data.valid_fraction, data.test_fraction)
        check_split(series, data.lookback, data.horizon, season, fractions)
        n_train, n_valid, n_test = split_sizes(len(series), *fractions)
        mean, std = fit_scaling(series, n_train)
        train = series.values[:n_train]
        direct = config.model.strategy == "direct"
        return {
            "source": data.path or data.builtin or "sunspots",
            "columns": series.columns,
            "time_column": series.time_column,
            "lookback": data.lookback,
            "horizon": data.horizon,
            "output_steps": data.horizon if direct else 1,
            "season": season,
            "rows": {"train": n_train, "valid": n_valid, "test": n_test},
            "mean": mean,
            "std": std,
            "naive_scale": in_sample_scale(train, 1),
            "seasonal_scale": in_sample_scale(train, season),
        }

    def origins(self, meta: dict, part: str) -> range:
        """The forecast origins of a part of the training series."""
        rows, lookback, horizon = meta["rows"], meta["lookback"], meta["horizon"]
        n_train, n_valid = rows["train"], rows["valid"]
        total = n_train + n_valid + rows["test"]
        if part == "train":
            return part_origins(0, n_train, lookback, meta["output_steps"])
        if part == "valid":
            return part_origins(n_train, n_train + n_valid, lookback, horizon)
        return part_origins(n_train + n_valid, total, lookback, horizon)

    def splits(self, series: Series, meta: dict) -> dict[str, list]:
        z = standardise(series.values, meta)
        splits = {}
        for part in ("train", "valid", "test"):
            steps = meta["output_steps"] if part == "train" else meta["horizon"]
            inputs, targets = windows(z, self.origins(meta, part), meta["lookback"], steps)
            splits[part] = list(zip(inputs, targets))
        return splits

    def training_series(self, saved: SavedRun) -> Series:
        """The run's own series again (it must still have the rows it was split into)."""
        series, _ = self.series(saved.config)
        if len(series) != sum(saved.meta["rows"].values()):
            raise ValueError(
                f"{series.place()}: {len(series)} rows, but the run was split from "
                f"{sum(saved.meta['rows'].values())} (did the file change?)"
            )
        return series

    # ------------------------------------------------------------------ TaskSpec
    def prepare(self, config: ForecastConfig, dist) -> Prepared:
        series, digest = self.series(config)
        meta = self.fit_meta(series, config)
        splits = self.splits(series, meta)
        problem = Forecasting(meta["horizon"], config.data.batch_size)
        task = ExampleTask(splits, problem, config.data.batch_size, config.train.seed, dist)
        model = self.build_model(config, meta)
        esn = config.model.kind == "esn"
        if esn:  # closed form: the ridge readout, no gradient steps (see Prepared.fitted)
            meta["ridge"] = model.fit(
                *problem.collate(splits["train"]),
                ridge=config.model.ridge if config.model.ridge is not None else RIDGES,
                valid=problem.collate(splits["valid"]),
            )
        m = config.model
        what = f"ESN of {m.reservoir_size} units" if esn else f"{m.cell} forecaster"
        description = (
            f"{what} ({m.strategy}) of {len(series.columns)} column(s) of {meta['source']}: "
            f"{meta['lookback']} steps -> {meta['horizon']}; {len(splits['train'])} training, "
            f"{len(splits['valid'])} validation windows"
        )
        return Prepared(task, model, meta, digest, description, fitted=esn)

    def build_model(self, config: ForecastConfig, meta: dict) -> nn.Module:
        m, columns, steps = config.model, len(meta["columns"]), meta["output_steps"]
        if m.kind == "esn":
            m.check_no_layer_options("Echo State Network (--model esn)")
            return ReservoirForecaster(
                columns,
                steps,
                reservoir_size=m.reservoir_size,
                spectral_radius=m.spectral_radius,
                leak_rate=m.leak_rate,
                input_scaling=m.input_scaling,
                connectivity=m.connectivity,
                seed=config.train.seed,
            )
        return RecurrentForecaster(
            columns,
            steps,
            bidirectional=m.bidirectional,
            embedding_dim=m.embedding_dim,
            **m.network_options(),
        )

    def score(self, saved: SavedRun, series: Series, origins: range) -> tuple[dict, np.ndarray]:
        """(metrics, forecasts (N, H, C) in original units) of the windows at ``origins``."""
        meta = saved.meta
        z = standardise(series.values, meta)
        inputs, targets = windows(z, origins, meta["lookback"], meta["horizon"])
        problem = Forecasting(meta["horizon"], saved.config.data.batch_size)
        with torch.no_grad():
            predicted = problem.forecasts(saved.model, inputs)
        forecasts = unstandardise(predicted.numpy(), meta)
        metrics = report(truths(series.values, origins, meta["horizon"]), forecasts,
                         series.values, origins, meta)  # fmt: skip
        metrics["loss"] = float(F.mse_loss(predicted, targets))  # standardised units
        return metrics, forecasts

    def finish(self, saved: SavedRun, summary: dict, args: argparse.Namespace) -> None:
        series = self.training_series(saved)
        origins = self.origins(saved.meta, "test")
        metrics, forecasts = self.score(saved, series, origins)
        self.plot(saved, series, origins, forecasts, metrics)
        print(
            f"test ({metrics['windows']} windows of {metrics['horizon']} steps): {_line(metrics)}"
        )
        print(f"forecasts: {saved.run / FORECAST_PLOT}")

    def plot(self, saved: SavedRun, series: Series, origins: range, forecasts, metrics) -> None:
        meta, horizon = saved.meta, saved.meta["horizon"]
        first = max(0, origins[0] - 2 * horizon)
        axis = series.times[first:] if series.times is not None else list(range(first, len(series)))
        paths = [(t - first, forecasts[k], np.repeat(series.values[t : t + 1], horizon, 0))
                 for k, t in enumerate(origins) if k % horizon == 0]  # fmt: skip
        title = (
            f"{meta['source']}, test part (shaded), {horizon}-step forecasts: MASE "
            f"{metrics['mase']:.3f} (naive {metrics['naive_mase']:.3f}, seasonal naive "
            f"{metrics['seasonal_naive_mase']:.3f})"
        )
        plot_forecast(
            saved.run / FORECAST_PLOT,
            axis,
            series.values[first:],
            paths,
            meta["columns"],
            title,
            time_label=meta["time_column"] or "step",
            held_out=origins[0] + 1 - first,
        )

    def evaluate(self, saved: SavedRun, args: argparse.Namespace) -> dict:
        meta = saved.meta
        if args.data is not None:
            name, series = args.data, self.read(args.data, saved)
            first = max(meta["lookback"], meta["season"])
            needed = first + meta["horizon"]
            check_length(series, needed, f"evaluation (lookback or season {first} + horizon)")
            origins = range(first - 1, len(series) - meta["horizon"])
        else:
            name, series = args.split, self.training_series(saved)
            origins = self.origins(meta, args.split)
        metrics, _ = self.score(saved, series, origins)
        print(f"{name} ({metrics['windows']} windows): {_line(metrics)}", file=sys.stderr)
        return metrics

    def predict(self, saved: SavedRun, args: argparse.Namespace) -> list[dict]:
        meta = saved.meta
        series = self.read(args.input, saved)
        check_length(series, meta["lookback"], f"a forecast from lookback {meta['lookback']}")
        window = torch.as_tensor(standardise(series.values[-meta["lookback"] :], meta))
        with torch.no_grad():
            predicted = forecast(saved.model, window[None].float(), meta["horizon"])[0]
        values = unstandardise(predicted.numpy(), meta)
        times = future_times(series.times, meta["horizon"])
        records = []
        for h, row in enumerate(values):
            record: dict = {"step": h + 1}
            if times is not None:
                record[meta["time_column"]] = format_time(times[h])
            record.update({name: float(v) for name, v in zip(meta["columns"], row)})
            records.append(record)
        return records


def _line(m: dict) -> str:
    return (
        f"MAE {m['mae']:.4g}, RMSE {m['rmse']:.4g}, NRMSE {m['nrmse']:.3f}, MASE {m['mase']:.3f}; "
        f"naive MAE {m['naive_mae']:.4g}, MASE {m['naive_mase']:.3f}; seasonal naive "
        f"(m={m['season']}) MAE {m['seasonal_naive_mae']:.4g}, MASE {m['seasonal_naive_mase']:.3f}"
    )


SPEC = Forecast()
