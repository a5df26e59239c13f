"""Bad input to every command: one table of (arguments, exit code, message fragments).

Every row is a mistake a user can make; every row must end in exit code 2 and exactly one
``regulab: error: ...`` line naming the problem in the CLI's words, before any work (no
training starts: the rows below would take minutes otherwise, and a store named in them must
not appear). Add a row for every new flag. Files the rows refer to are made once by the
``files`` fixture and named ``{name}`` in the arguments.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pandas as pd
import pytest
from _cli import invoke
from sklearn.datasets import load_iris

from regulab import _format
from regulab.custom import build_model
from regulab.estimators import RegularizedLinearClassifier
from regulab.io import save
from regulab.models import LinearModel


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("inputs")
    iris = load_iris(as_frame=True).frame
    iris.to_csv(folder / "iris.csv", index=False)
    iris.iloc[[0, 100]].to_csv(folder / "two.csv", index=False)
    iris.head(0).to_csv(folder / "header.csv", index=False)
    huge = iris.copy()
    huge.loc[5, "petal width (cm)"] = 1e308
    huge.to_csv(folder / "huge.csv", index=False)
    (folder / "mixed.csv").write_text(
        "color,smoker,x,y\n"
        + "".join(
            f"{'red' if i % 3 else 'blue'},{'Yes' if i % 2 else 'No'},{i},{i % 2}\n"
            for i in range(12)
        )
    )
    (folder / "dup.csv").write_text("a,y,b,y\n1,0,2,0\n2,1,3,1\n3,0,4,0\n4,1,5,1\n")
    save(LinearModel(4, 3, seed=0), folder / "model.safetensors")
    mixed = iris.assign(colour=["red", "blue", None] * 50).drop(columns="target")
    mixed.loc[::7, "sepal width (cm)"] = None
    RegularizedLinearClassifier(epochs=1, random_state=0).fit(mixed, iris["target"]).save(
        folder / "table_model.safetensors"
    )
    mixed.drop(columns="colour").to_csv(folder / "mixed_lacking.csv", index=False)
    mixed.astype({"petal length (cm)": object}).assign(
        **{"petal length (cm)": ["1.4"] * 11 + ["long"] + ["1.5"] * 138}
    ).to_csv(folder / "mixed_text.csv", index=False)
    for name, factory in [("gone", "gone_module:make_dense"), ("changed", "user_models:make_mlp")]:
        path = folder / f"factory_{name}.safetensors"
        net = build_model(
            "user_models:make_dense", input_shape=(4,), n_outputs=3, task="regression"
        )
        document, tensors = _format.read(save(net, path))  # then the factory moves or changes:
        _format.write(
            path, tensors, {**document, "model": {**document["model"], "factory": factory}}
        )
    (folder / "history1.csv").write_text("epoch,loss,val_loss\n1,0.9,1.0\n")
    (folder / "history_text.csv").write_text(
        "epoch,loss,val_loss\n1,0.9,1.0\n2,0.8,abc\n3,0.7,0.9\n4,0.6,0.8\n"
    )
    store = folder / "runs.sqlite"
    with closing(sqlite3.connect(store)) as conn:  # a valid, empty results store
        conn.executescript(
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, run_key TEXT NOT NULL UNIQUE, "
            "experiment TEXT NOT NULL, group_name TEXT NOT NULL, config_name TEXT NOT NULL, "
            "seed INTEGER NOT NULL, data_fingerprint TEXT NOT NULL, "
            "library_version TEXT NOT NULL, created_at TEXT NOT NULL, seconds REAL NOT NULL, "
            "record TEXT NOT NULL);"
            "INSERT INTO meta VALUES ('format', 'regulab-results'), ('schema_version', '1');"
        )
    (folder / "subfolder").mkdir()
    return {path.stem: path for path in folder.iterdir()} | {"folder": folder}


TRAIN = ["train", "--data", "iris", "--model", "4-8-3", "--epochs", "2", "--quiet"]
COMPARE = ["compare", "--data", "iris", "--model", "4-8-3", "--epochs", "2", "--quiet"]
STORE = ["--store", "{tmp}/s.sqlite"]

# name -> (arguments, expected exit code, fragments of the one error line)
BAD_INPUTS: dict[str, tuple[list[str], int, list[str]]] = {
    # -- outputs that would replace an input (issue 12, item 1) -----------------------------
    "train --json onto --data": (
        ["train", "--data", "{iris}", "--target", "target", "--json", "{iris}"],
        2,
        ["Refusing to write --json", "it is the --data file"],
    ),
    "train --save onto --data": (
        ["train", "--data", "{iris}", "--target", "target", "--save", "{iris}"],
        2,
        ["Refusing to write --save", "--data"],
    ),
    "train --json is a folder": ([*TRAIN, "--json", "{folder}"], 2, ["it is a folder"]),
    "train --json and --save alike": (
        [*TRAIN, "--json", "{tmp}/x", "--save", "{tmp}/x"],
        2,
        ["--save and --json both name"],
    ),
    "predict -o onto --data": (
        ["predict", "--model", "{model}", "--data", "{iris}", "-o", "{iris}"],
        2,
        ["Refusing to write -o/--output", "--data file"],
    ),
    "predict -o onto --model": (
        ["predict", "--model", "{model}", "--data", "{iris}", "-o", "{model}"],
        2,
        ["Refusing to write -o/--output", "--model file"],
    ),
    "compare --json onto --store": (
        [*COMPARE, "--store", "{runs}", "--json", "{runs}"],
        2,
        ["Refusing to write --json", "--store file"],
    ),
    "compare --report onto --store folder": (
        [*COMPARE, "--store", "{folder}", "--report", "{folder}/regulab-runs.sqlite"],
        2,
        ["Refusing to write --report", "--store file"],
    ),
    "report --figures is a file": (
        ["report", "--store", "{runs}", "-o", "{tmp}/r.html", "--figures", "{iris}"],
        2,
        ["--figures", "is a file"],
    ),
    "compare --figures without --report": (
        [*COMPARE, *STORE, "--figures", "{tmp}/figs"],
        2,
        ["--figures", "add --report"],
    ),
    "runs export onto the store": (
        ["runs", "export", "--store", "{runs}", "--csv", "{runs}"],
        2,
        ["Refusing to write --csv", "--store file"],
    ),
    "report onto the store": (
        ["report", "--store", "{runs}", "-o", "{runs}"],
        2,
        ["Refusing to write -o/--output", "--store file"],
    ),
    "advise --json onto --data": (
        ["advise", "--data", "{iris}", "--target", "target", "--json", "{iris}"],
        2,
        ["Refusing to write --json", "--data file"],
    ),
    "diagnose --json onto --data": (
        ["diagnose", "--data", "{iris}", "--target", "target", "--json", "{iris}"],
        2,
        ["Refusing to write --json", "--data file"],
    ),
    "diagnose-run --json onto the history": (
        ["diagnose-run", "{history1}", "--json", "{history1}"],
        2,
        ["Refusing to write --json", "HISTORY file"],
    ),
    "path --json onto --data": (
        ["path", "--data", "{iris}", "--target", "target", "--json", "{iris}"],
        2,
        ["Refusing to write --json", "--data file"],
    ),
    "path --interpretable with a network": (
        ["path", "--data", "iris", "--model", "4-8-3", "--interpretable", *STORE],
        2,
        ["'--interpretable'", "a linear model", "--model 4-8-3"],
    ),
    "path --folds with the default network": (
        ["path", "--data", "iris", "--folds", "3", *STORE],
        2,
        ["'--folds'", "a linear model", "default network"],
    ),
    "path --steps 0 for a linear model": (
        ["path", "--data", "iris", "--model", "linear", "--steps", "0"],
        2,
        ["n_steps", "0"],
    ),
    "path --folds 1 for a linear model": (
        ["path", "--data", "iris", "--model", "linear", "--folds", "1"],
        2,
        ["folds", "1"],
    ),
    "path --epochs for a linear model": (
        ["path", "--data", "iris", "--model", "4-3", "--epochs", "5"],
        2,
        ["'--epochs'", "a network model", "solved exactly", "--model 4-3"],
    ),
    "path --store for a linear model": (
        ["path", "--data", "iris", "--model", "linear", *STORE],
        2,
        ["'--store'", "a network model"],
    ),
    "path --report for a linear model": (
        ["path", "--data", "iris", "--model", "linear", "--report", "{tmp}/r.html"],
        2,
        ["'--report'", "a network model"],
    ),
    "curve --report onto --store": (
        ["curve", "--kind", "dropout", "--data", "iris", "--store", "{runs}", "--report", "{runs}"],
        2,
        ["Refusing to write --report", "--store file"],
    ),
    "tune --json onto --store": (
        ["tune", "--data", "iris", "--store", "{runs}", "--json", "{runs}"],
        2,
        ["Refusing to write --json", "--store file"],
    ),
    "predict a model whose factory is gone": (
        ["predict", "--model", "{factory_gone}", "--data", "{iris}", "-o", "{tmp}/p.csv"],
        2,
        ["factory_gone.safetensors", "needs the model factory gone_module:make_dense", "import"],
    ),
    "predict a model whose factory builds another module": (
        ["predict", "--model", "{factory_changed}", "--data", "{iris}", "-o", "{tmp}/p.csv"],
        2,
        ["the module user_models:make_mlp builds does not fit the weights", "Missing key(s)"],
    ),
    # -- infinite strengths and rates (item 7) -----------------------------------------------
    "train --l1 inf": ([*TRAIN, "--l1", "inf"], 2, ["'l1'", "Got inf", "finite"]),
    "train --l2 inf": ([*TRAIN, "--l2", "inf"], 2, ["'l2'", "finite"]),
    "train --weight-decay inf": ([*TRAIN, "--weight-decay", "inf"], 2, ["WeightDecay", "finite"]),
    "train --lr inf": ([*TRAIN, "--lr", "inf"], 2, ["'lr'", "finite"]),
    "train --elastic-net inf:0.5": ([*TRAIN, "--elastic-net", "inf:0.5"], 2, ["'alpha'"]),
    "compare l1=inf": ([*COMPARE, *STORE, "--techniques", "l1=inf"], 2, ["'l1'", "finite"]),
    "compare --lr inf": ([*COMPARE, *STORE, "--lr", "inf"], 2, ["'lr'", "finite"]),
    "train --device mps": ([*TRAIN, "--device", "mps"], 2, ["'device'", "'mps'"]),
    # -- absurd sizes (item 8) ----------------------------------------------------------------
    "train huge layer": (
        ["train", "--data", "iris", "--model", "4-99999999999-3"],
        2,
        ["4-99999999999-3", "GB of memory"],
    ),
    "compare huge layer": (
        ["compare", "--data", "iris", "--model", "4-99999999999-3", *STORE],
        2,
        ["GB of memory"],
    ),
    "diagnose huge layer": (
        ["diagnose", "--data", "iris", "--model", "4-99999999999-3"],
        2,
        ["GB of memory"],
    ),
    "train --epochs 1e20": (
        [*TRAIN, "--epochs", "99999999999999999999"],
        2,
        ["--epochs", "x<=100000"],
    ),
    "compare --epochs 1e20": (
        [*COMPARE, *STORE, "--epochs", "99999999999999999999"],
        2,
        ["--epochs", "x<=100000"],
    ),
    # -- diagnose checks the model as train does (item 9) -------------------------------------
    "diagnose model input size": (
        ["diagnose", "--data", "iris", "--model", "5-8-3"],
        2,
        ["input size is 5", "4 features", "'4-8-3'"],
    ),
    "diagnose model output size": (
        ["diagnose", "--data", "iris", "--model", "4-8-2"],
        2,
        ["output size is 2", "3 classes"],
    ),
    "diagnose factory output size": (
        ["diagnose", "--data", "iris", "--model", "user_models:wrong_outputs"],
        2,
        ["output size is 4", "3 classes"],
    ),
    "diagnose factory that raises": (
        ["diagnose", "--data", "iris", "--model", "user_models:broken"],
        2,
        ["user_models:broken raised RuntimeError"],
    ),
    "path with the built-in CNN": (
        ["path", "--data", "digits", "--model", "cnn", *STORE],
        2,
        ["regularization_path runs Regulab's MLP only, not the model cnn", "regulab compare"],
    ),
    "curve with a factory": (
        ["curve", "--kind", "patience", "--data", "iris", "--model", "user_models:make_mlp"],
        2,
        ["patience_curve runs Regulab's MLP only, not the model user_models:make_mlp"],
    ),
    "tune with the built-in CNN": (
        ["tune", "--data", "digits", "--model", "cnn", "--trials", "2", *STORE],
        2,
        ["tune runs Regulab's MLP only", "warm starts and sweeps are built on the MLP's layers"],
    ),
    # -- column kinds of a table (issue 19) ---------------------------------------------------
    "advise --categorical not a column": (
        ["advise", "--data", "{mixed}", "--target", "y", "--categorical", "colr", *STORE],
        2,
        ["'categorical' option names column 'colr'", "Did you mean 'color'"],
    ),
    "train --drop not a column": (
        ["train", "--data", "{mixed}", "--target", "y", "--drop", "smokr", "--quiet"],
        2,
        ["'drop' option names column 'smokr'", "Did you mean 'smoker'"],
    ),
    "compare --numeric not a column": (
        ["compare", "--data", "{mixed}", "--target", "y", "--numeric", "z", *STORE],
        2,
        ["'numeric' option names column 'z'"],
    ),
    "diagnose --drop the target": (
        ["diagnose", "--data", "{mixed}", "--target", "y", "--drop", "y"],
        2,
        ["'y' is the target", "'drop'"],
    ),
    "path --categorical on a built-in": (
        ["path", "--data", "iris", "--categorical", "a", *STORE],
        2,
        ["built-in dataset 'iris' is all numeric", "for tables"],
    ),
    "train --numeric on a text column": (
        ["train", "--data", "{mixed}", "--target", "y", "--numeric", "color", "--quiet"],
        2,
        ["'color'", "row"],
    ),
    # -- diagnose-run (item 10) -------------------------------------------------------------
    "diagnose-run non-numeric cell": (
        ["diagnose-run", "{history_text}"],
        2,
        ["'val_loss'", "not a number", "'abc'", "row 2"],
    ),
    # -- silently reinterpreted input (item 13) -------------------------------------------------
    "early stopping without monitor": (
        [*TRAIN, "--early-stopping", ":3"],
        2,
        ["MONITOR:PATIENCE", "':3'"],
    ),
    "early stopping empty": ([*TRAIN, "--early-stopping", ""], 2, ["MONITOR:PATIENCE", "''"]),
    "early stopping without patience": (
        [*TRAIN, "--early-stopping", "val_loss:"],
        2,
        ["MONITOR:PATIENCE"],
    ),
    "dropout empty item": ([*TRAIN, "--dropout", "0.5,,0.3"], 2, ["Dropout rates", "0.5,,0.3"]),
    "techniques empty": ([*COMPARE, *STORE, "--techniques", ""], 2, ["technique list is empty"]),
    "technique twice in a config": (
        [*COMPARE, *STORE, "--techniques", "l1+l1"],
        2,
        ["'l1+l1' names l1 more than once"],
    ),
    "none with a technique": (
        [*COMPARE, *STORE, "--techniques", "none+l1"],
        2,
        ["combines 'none'"],
    ),
    "linear with dropout": (
        [*COMPARE, *STORE, "--techniques", "linear+dropout"],
        2,
        ["dropout on a linear model", "input_dropout"],
    ),
    "same config in two orders": (
        [*COMPARE, *STORE, "--techniques", "dropout+l2,l2+dropout"],
        2,
        ["'dropout+l2' and 'l2+dropout' are the same settings"],
    ),
    "default strength written out": (
        [*COMPARE, *STORE, "--techniques", "l1,l1=1e-3"],
        2,
        ["'l1' and 'l1=1e-3' are the same settings"],
    ),
    "target with a built-in data set": (
        [*TRAIN, "--target", "species"],
        2,
        ["'iris' has its own target"],
    ),
    "advise --figures without --report": (
        ["advise", "--data", "iris", "--figures", "{tmp}/figs"],
        2,
        ["add --report"],
    ),
    "advise --jobs 0": (
        ["advise", "--data", "iris", "--jobs", "0", "--budget", "5s"],
        2,
        ["'jobs' parameter of advise", "[1, inf)", "Got 0"],
    ),
    "advise --metric unknown": (
        ["advise", "--data", "iris", "--metric", "auc", "--budget", "5s"],
        2,
        ["Unknown metric 'auc'", "roc_auc", "balanced_accuracy", "log_loss"],
    ),
    "advise --metric of the other task": (
        ["advise", "--data", "iris", "--metric", "r2", "--budget", "5s"],
        2,
        ["'r2' does not apply to classification", "roc_auc"],
    ),
    "report of no store": (
        ["report", "--store", "{tmp}/none.sqlite", "--figures", "{tmp}/figs"],
        2,
        ["No results store", "running a comparison with this store path creates one"],
    ),
    # -- messages in the CLI's words (item 14) ------------------------------------------------
    "predict a table without a column the model needs": (
        ["predict", "--model", "{table_model}", "--data", "{mixed_lacking}", "-o", "{tmp}/p.csv"],
        2,
        ["mixed_lacking.csv", "lacks 1 feature column(s)", "colour"],
    ),
    "predict a table with text in a numeric column": (
        ["predict", "--model", "{table_model}", "--data", "{mixed_text}", "-o", "{tmp}/p.csv"],
        2,
        ["mixed_text.csv", "Column 'petal length (cm)'", "row 12", "'long'"],
    ),
    "predict header-only CSV": (
        ["predict", "--model", "{model}", "--data", "{header}", "-o", "{tmp}/p.csv"],
        2,
        ["header.csv", "no rows to predict"],
    ),
    "two-row CSV": (
        ["train", "--data", "{two}", "--target", "target"],
        2,
        ["2 rows: too few for a training, a validation and a test part"],
    ),
    "empty --data": (["train", "--data", ""], 2, ["data source is empty"]),
    "folder as --data": (["train", "--data", "{subfolder}", "--target", "y"], 2, ["is a folder"]),
    "cell of 1e308": (
        ["train", "--data", "{huge}", "--target", "target"],
        2,
        ["'petal width (cm)'", "beyond the 32-bit float range", "1e+308"],
    ),
    "seed -1": ([*TRAIN, "--seed", "-1"], 2, ["--seed", "-1"]),
    "diagnose seed -1": (["diagnose", "--data", "iris", "--seed", "-1"], 2, ["--seed"]),
    "duplicate column names": (
        ["train", "--data", "{dup}", "--target", "y"],
        2,
        ["dup.csv", "more than once: 'y'"],
    ),
    "runs show of a missing id": (
        ["runs", "show", "--store", "{runs}", "5"],
        2,
        ["No run with id 5", "store", "is empty"],
    ),
    "runs list of no store": (
        ["runs", "list", "--store", "{tmp}/none.sqlite"],
        2,
        ["No results store", "Check the path"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input(
    case: str, files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory of the tests
    argv, expected, fragments = BAD_INPUTS[case]
    names = {name: str(path) for name, path in files.items()}
    before = {path: path.read_bytes() for path in files.values() if path.is_file()}
    code, _, err = invoke(*[arg.format(tmp=tmp_path, **names) for arg in argv])
    assert code == expected, err
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regulab: error: "), err
    for fragment in fragments:
        assert fragment in lines[0]
    for word in ("create=True", "list_runs()", "random_state", "unpack", "torch."):
        assert word not in lines[0]  # Python-API or library internals in a CLI message
    assert {path: path.read_bytes() for path in before} == before  # no input was touched
    assert not (tmp_path / "s.sqlite").exists()  # refused before the store was made
    assert list(tmp_path.iterdir()) == []


def test_every_command_has_a_row() -> None:
    from regulab.cli import cli

    commands = {name for name in cli.commands if name != "datasets"} | {"runs"}
    covered = {argv[0] for argv, _, _ in BAD_INPUTS.values()}
    assert commands - covered == set()


def test_one_epoch_history_is_too_short_to_judge(files: dict[str, Path]) -> None:
    code, out, err = invoke("diagnose-run", files["history1"])
    assert code == 0, err
    assert "[too_short]" in out and "healthy" not in out


def test_target_inferred_from_a_csv_is_announced(tmp_path: Path) -> None:
    frame = load_iris(as_frame=True).frame
    frame["target"] = (frame["target"] > 0).astype(int)  # 0/1: classification
    frame.to_csv(tmp_path / "binary.csv", index=False)
    code, out, err = invoke(
        "train", "--data", tmp_path / "binary.csv", "--target", "target", "--epochs", "1",
        "--quiet", "--json", tmp_path / "r.json",
    )  # fmt: skip
    assert code == 0, err
    assert "Target 'target' has 2 distinct whole numbers: treated as classification." in out
    assert "--task regression" in out
    assert pd.read_json(tmp_path / "r.json", typ="series")["data"]["task"] == "classification"
