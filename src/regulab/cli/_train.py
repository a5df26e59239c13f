"""``regulab train`` and ``regulab predict``: one model trained, saved and used."""

from __future__ import annotations

from typing import Any

import click

from regulab._terminal import print_summary, print_wrapped
from regulab.cli._common import (
    _COLUMN_KEYWORDS,
    EPOCHS,
    SEED,
    _apply,
    _check_outputs,
    _column_options,
    _console,
    _pop_outputs,
    _resolve_model,
    cli,
    output_options,
    write_json,
)
from regulab.config import (
    TrainConfig,
    parse_early_stopping,
    parse_elastic_net,
    parse_rates,
    run,
)


@cli.command("train")
@click.option(
    "--data",
    default="digits",
    show_default=True,
    help="Built-in name (see `regulab datasets`), mnist, or a CSV/Parquet/NPZ path.",
)
@click.option("--target", default=None, help="Target column of a CSV/Parquet file.")
@click.option(
    "--task",
    type=click.Choice(["classification", "regression"]),
    default=None,
    help="Force the task for a file.",
)
@click.option("--mnist-dir", default=None, help="Folder with MNIST's four IDX .gz files.")
@click.option(
    "--model",
    default=None,
    callback=_resolve_model,
    help="Layer sizes like 64-128-64-10, 'linear', 'cnn', or your own factory as "
    "package.module:function. Default: inputs-128-64-outputs.",
)
@_column_options
@click.option("--activation", default="relu", show_default=True)
@click.option("--dropout", default="", help="Rates after hidden layers, e.g. 0.5,0.3.")
@click.option("--input-dropout", type=float, default=0.0, show_default=True)
@click.option("--batchnorm", is_flag=True, help="Batch norm after every hidden layer.")
@click.option("--l1", type=float, default=0.0, show_default=True, help="L1 strength.")
@click.option("--l2", type=float, default=0.0, show_default=True, help="L2 strength.")
@click.option("--elastic-net", default=None, help="ALPHA:L1_RATIO, e.g. 1e-4:0.5.")
@click.option(
    "--weight-decay",
    type=float,
    default=0.0,
    show_default=True,
    help="Decoupled (AdamW-style) decay.",
)
@click.option("--prox-l1", is_flag=True, help="Apply L1 as a proximal step (exact zeros).")
@click.option("--early-stopping", default=None, help="MONITOR:PATIENCE, e.g. val_loss:3.")
@click.option(
    "--class-weight",
    type=click.Choice(["balanced"]),
    default=None,
    help="Weigh the training loss by inverse class frequency (classification).",
)
@click.option("--optimizer", default="adam", show_default=True, help="adam, adamw or sgd.")
@click.option("--lr", type=float, default=1e-3, show_default=True)
@click.option("--epochs", type=EPOCHS, default=10, show_default=True)
@click.option("--batch-size", type=int, default=32, show_default=True)
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True)
@_apply(output_options("the results", save="Save the trained model (safetensors + JSON metadata)"))
def train_command(**options: Any) -> None:
    """Train one model with the chosen regularization and report test metrics."""
    _, _, json_path, save_path, quiet = _pop_outputs(options)
    options["dropout"] = parse_rates(options["dropout"])
    if options["elastic_net"] is not None:
        options["elastic_net"] = parse_elastic_net(options["elastic_net"])
    if options["early_stopping"] is not None:
        options["early_stopping"] = parse_early_stopping(options["early_stopping"])
    columns = {name: options.pop(name) for name in _COLUMN_KEYWORDS}
    config = TrainConfig(**options, verbose=0 if quiet else 1)
    # a table with the user's column kinds is loaded here, other data by run()
    dataset = config.load_data(**columns) if any(columns.values()) else None
    summary = run(config, dataset)
    if json_path:
        write_json(json_path, summary.to_json())
    if save_path:
        from regulab.io import preprocessing_of, save

        splits = summary.splits
        table = splits.preprocessor.to_state() if splits.preprocessor is not None else None
        save(
            summary.result.model,
            save_path,
            preprocessing=preprocessing_of(
                summary.dataset, splits.mean, splits.scale, table_state=table
            ),
        )
    print_summary(_console(), summary)
    if save_path:
        click.echo(f"Model saved to {save_path}")


@cli.command("predict")
@click.option(
    "--model",
    "model_path",
    required=True,
    help="A file from `regulab train --save` or `regulab advise --save` (a CNN or factory "
    "model imports and runs its factory).",
)
@click.option("--data", "data_path", required=True, help="CSV or Parquet with the features.")
@click.option("-o", "--output", default="predictions.csv", show_default=True)
@click.option("--target", default=None, help="A column to leave out and copy to the output.")
def predict_command(model_path: str, data_path: str, output: str, target: str | None) -> None:
    """Predict every row of a CSV/Parquet file with a saved model.

    A model trained on a mixed table reads the raw file (text, empty cells) in chunks and
    encodes it as in training; one note counts the empty cells filled, the unseen
    categories and the columns ignored.
    """
    from regulab.io import predict_file
    from regulab.tables import TransformReport

    _check_outputs({"-o/--output": output}, {"--model": model_path, "--data": data_path})
    report = TransformReport()
    written = predict_file(model_path, data_path, output, target=target, report=report)
    if report.lines():
        print_wrapped(_console(), "; ".join(report.lines()) + ".", "Note: ")
    click.echo(f"{len(written)} predictions written to {output}")
