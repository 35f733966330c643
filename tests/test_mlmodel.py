"""MLmodel metadata: a registered folder's ``MLmodel`` file read into the version (flavors,
signature, provenance), kept in the version file, shown, printed as JSON and searched by flavor;
a malformed or hostile file is one warning and the version registers without it."""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from helpers import Cli
from jsonschema_lite import validate
from test_json_contract import SCHEMA
from test_remotes_imports import modules_of

from mreg import Registry
from mreg.entities import MLmodelInfo, Signature, SignatureField
from mreg.errors import DamagedStore
from mreg.store import files
from mreg.store.records import (
    VersionRecord,
    mlmodel_from_table,
    mlmodel_toml,
    parse_version,
    parse_written_version,
)

COLUMNS = json.dumps(
    [
        {"type": "double", "name": "sepal length (cm)", "required": True},
        {"type": "string", "name": "species", "required": False},
        {"type": "array", "items": {"type": "long"}, "name": "counts", "required": True},
        {"type": "map", "values": {"type": "string"}, "name": "extra", "required": True},
        {
            "type": "object",
            "properties": {
                "a": {"type": "double", "required": True},
                "b": {"type": "string", "required": False},
            },
            "name": "nested",
            "required": True,
        },
    ]
)
TENSORS_IN = json.dumps([{"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 28, 28]}}])
TENSORS_OUT = json.dumps(
    [{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, 10]}, "name": "p"}]
)
PARAMS = json.dumps(
    [
        {"name": "alpha", "type": "double", "default": 0.5, "shape": None},
        {"name": "labels", "type": "string", "default": ["a", "b"], "shape": [-1]},
    ]
)

SKLEARN = """\
artifact_path: model
flavors:
  python_function:
    env:
      conda: conda.yaml
      virtualenv: python_env.yaml
    loader_module: mlflow.sklearn
    model_path: model.pkl
    predict_fn: predict
    python_version: 3.11.9
  sklearn:
    code: null
    pickled_model: model.pkl
    serialization_format: cloudpickle
    sklearn_version: 1.5.0
mlflow_version: 2.14.1
model_size_bytes: 1234
model_uuid: 3b5d1e0f2c7a4f0e9c1d2b3a4e5f6a7b
"""


def mlmodel_folder(base: Path, text: str | bytes, name: str = "export") -> Path:
    folder = base / name
    folder.mkdir()
    (folder / "model.pkl").write_bytes(b"not really a pickle\n")
    data = text.encode() if isinstance(text, str) else text
    (folder / "MLmodel").write_bytes(data)
    return folder


def with_signature(inputs: str | None, outputs: str | None = None, params: str | None = None) -> str:
    lines = [SKLEARN, "signature:"]
    for key, value in (("inputs", inputs), ("outputs", outputs), ("params", params)):
        if value is not None:
            lines.append(f"  {key}: {json.dumps(value)}")  # JSON text inside YAML, as MLflow writes it
    return "\n".join(lines) + "\nutc_time_created: '2024-06-01 10:00:00.123456'\n"


def registered(registry: Registry, folder: Path) -> MLmodelInfo:
    registry.create_model_version("iris", folder)
    fresh = Registry(registry.root).get_model_version("iris", 1)  # read back from the version file
    assert fresh.mlmodel is not None
    return fresh.mlmodel


# ----------------------------------------------------------------------------- shapes of MLmodel


def test_column_signature_and_flavors(registry: Registry, isolated: Path) -> None:
    info = registered(registry, mlmodel_folder(isolated, with_signature(COLUMNS, TENSORS_OUT)))
    assert info.flavor_names == ("python_function", "sklearn")
    assert dict(info.flavors)["python_function"] == (
        ("loader_module", "mlflow.sklearn"),
        ("model_path", "model.pkl"),
        ("predict_fn", "predict"),
        ("python_version", "3.11.9"),
    )
    assert ("sklearn_version", "1.5.0") in dict(info.flavors)["sklearn"]
    assert (info.mlflow_version, info.model_uuid) == ("2.14.1", "3b5d1e0f2c7a4f0e9c1d2b3a4e5f6a7b")
    assert info.utc_time_created == "2024-06-01 10:00:00.123456"
    assert info.signature is not None
    assert [(f.name, f.type, f.required) for f in info.signature.inputs] == [
        ("sepal length (cm)", "double", True),
        ("species", "string", False),
        ("counts", "Array(long)", True),
        ("extra", "Map(str -> string)", True),
        ("nested", "{a: double, b: string (optional)}", True),
    ]
    assert info.signature.outputs == (SignatureField("p", "tensor", True, "float64", (-1, 10)),)
    assert info.signature.params == ()


def test_tensor_signature(registry: Registry, isolated: Path) -> None:
    info = registered(registry, mlmodel_folder(isolated, with_signature(TENSORS_IN, TENSORS_OUT)))
    assert info.signature is not None
    (tensor,) = info.signature.inputs
    assert (tensor.name, tensor.type, tensor.dtype, tensor.shape) == (None, "tensor", "float32", (-1, 28, 28))


def test_params(registry: Registry, isolated: Path) -> None:
    info = registered(registry, mlmodel_folder(isolated, with_signature(COLUMNS, None, PARAMS)))
    assert info.signature is not None
    assert info.signature.outputs == ()
    assert [(p.name, p.type, p.default, p.shape) for p in info.signature.params] == [
        ("alpha", "double", "0.5", None),
        ("labels", "string", '["a", "b"]', (-1,)),
    ]


def test_no_signature(registry: Registry, isolated: Path) -> None:
    info = registered(registry, mlmodel_folder(isolated, SKLEARN))
    assert info.signature is None
    assert info.utc_time_created is None
    assert info.flavor_names == ("python_function", "sklearn")


def test_numbers_and_dates_in_yaml_become_text(registry: Registry, isolated: Path) -> None:
    text = "flavors:\n  xgboost:\n    xgb_version: 2.0\n    data: model.xgb\n  onnx:\n    onnx_version: 1\n"
    text += "mlflow_version: 2.5\nutc_time_created: 2024-06-01 10:00:00\n"
    info = registered(registry, mlmodel_folder(isolated, text))
    assert info.flavors == (
        ("xgboost", (("xgb_version", "2.0"), ("data", "model.xgb"))),
        ("onnx", (("onnx_version", "1"),)),
    )
    assert info.mlflow_version == "2.5"
    assert info.utc_time_created == "2024-06-01T10:00:00"


def test_a_file_or_a_folder_without_mlmodel_records_none(
    registry: Registry, model_dir: Path, model_file: Path, isolated: Path
) -> None:
    assert registry.create_model_version("a", model_dir).mlmodel is None
    assert registry.create_model_version("b", model_file).mlmodel is None
    nested = isolated / "nested"
    (nested / "inner").mkdir(parents=True)
    (nested / "inner" / "MLmodel").write_text(SKLEARN)  # only the top of the folder counts
    assert registry.create_model_version("c", nested).mlmodel is None


# ---------------------------------------------------------------------------------- malformed


MALFORMED = [
    ("bad-yaml", "flavors: [unclosed\n  - x: {\n", "not YAML"),
    ("not-a-mapping", "- just\n- a list\n", "not a mapping"),
    ("flavors-a-list", "flavors:\n  - sklearn\n", "flavors must be a mapping"),
    ("flavor-a-string", "flavors:\n  sklearn: yes\n", "flavors.sklearn must be a mapping"),
    ("inputs-not-json", "flavors: {}\nsignature:\n  inputs: '[{oops'\n", "signature.inputs is not JSON"),
    ("inputs-a-number", "flavors: {}\nsignature:\n  inputs: 12\n", "signature.inputs must be JSON text"),
    ("column-without-type", 'signature:\n  inputs: \'[{"name": "a"}]\'\n', "type must be a string"),
    ("required-not-bool", 'signature:\n  inputs: \'[{"type": "double", "required": "yes"}]\'\n', "required"),
    (
        "shape-of-text",
        'signature:\n  inputs: \'[{"type": "tensor", "tensor-spec": {"dtype": "f", "shape": ["a"]}}]\'\n',
        "shape",
    ),
    ("uuid-a-mapping", "model_uuid: {a: 1}\n", "model_uuid must be a string"),
    ("two-lines", 'mlflow_version: "2.1\\n3"\n', "one printable line"),
    ("long-text", f"model_uuid: {'x' * 2000}\n", "one printable line"),
    ("too-many-flavors", "flavors:\n" + "".join(f"  f{i}: {{}}\n" for i in range(65)), "at most 64 flavors"),
    ("python-tag", "flavors: !!python/object/apply:os.system ['touch PWNED']\n", "not YAML"),
    ("python-name", "model_uuid: !!python/name:os.system\n", "not YAML"),
    ("deep", "a: " + "[" * 5000 + "]" * 5000 + "\n", "MLmodel not read"),
]


@pytest.mark.parametrize(("case", "text", "said"), MALFORMED, ids=[c for c, _, _ in MALFORMED])
def test_a_malformed_mlmodel_is_one_warning_and_the_version_registers(
    registry: Registry, isolated: Path, capsys: pytest.CaptureFixture[str], case: str, text: str, said: str
) -> None:
    mv = registry.create_model_version("iris", mlmodel_folder(isolated, text))
    assert mv.version == 1 and mv.mlmodel is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("warning: MLmodel not read (")
    assert said in err
    assert not (isolated / "PWNED").exists()  # no tag built a Python object
    assert Registry(registry.root).get_model_version("iris", 1).mlmodel is None


def test_a_huge_mlmodel_is_not_read(
    registry: Registry, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = SKLEARN + "# padding\n" * (files.MAX_METADATA_BYTES // 10 + 1)
    mv = registry.create_model_version("iris", mlmodel_folder(isolated, huge))
    assert mv.mlmodel is None
    err = capsys.readouterr().err
    assert err.startswith("warning: MLmodel is ") and "over the 1048576-byte limit" in err
    assert err.count("\n") == 1


def test_an_mlmodel_that_is_not_utf8(
    registry: Registry, isolated: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mv = registry.create_model_version(
        "iris", mlmodel_folder(isolated, b"flavors: {}\nmodel_uuid: \xff\xfe\n")
    )
    assert mv.mlmodel is None
    assert "not UTF-8" in capsys.readouterr().err


def test_without_pyyaml_one_warning_names_the_extra(
    registry: Registry, isolated: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mreg

    monkeypatch.delitem(sys.modules, "mreg.mlmodel", raising=False)
    monkeypatch.delattr(mreg, "mlmodel", raising=False)
    monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` fails as it does when not installed
    mv = registry.create_model_version("iris", mlmodel_folder(isolated, SKLEARN))
    assert mv.version == 1 and mv.mlmodel is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'mreg[mlflow]'" in err and err.startswith("warning: ")


def test_the_cli_warns_on_stderr_and_prints_the_version(cli: Cli, registry: Registry, isolated: Path) -> None:
    mlmodel_folder(isolated, "flavors: [oops\n")
    result = cli("register", "export", "--name", "iris", "-q")
    assert result.exit_code == 0
    assert result.stdout == "1\n"
    assert result.stderr.startswith("warning: MLmodel not read")


# ----------------------------------------------------------------------------- the version file


def test_the_version_file_holds_an_mlmodel_table(registry: Registry, isolated: Path) -> None:
    registry.create_model_version(
        "iris", mlmodel_folder(isolated, with_signature(COLUMNS, TENSORS_OUT, PARAMS))
    )
    path = registry.store.layout.version_file("iris", 1)
    text = path.read_text(encoding="utf-8")
    assert "\n[mlmodel]\n" in text and "[mlmodel.flavors.sklearn]" in text
    raw = files.parse_toml(path, path.read_bytes())
    record = parse_version(path, raw)
    assert isinstance(record, VersionRecord) and record.mlmodel is not None
    assert parse_written_version(text) is None  # the general reader takes it
    assert files.dumps_toml(record.to_toml()) == text


def test_a_damaged_mlmodel_table_is_reported_naming_the_file(registry: Registry, isolated: Path) -> None:
    registry.create_model_version("iris", mlmodel_folder(isolated, with_signature(COLUMNS)))
    path = registry.store.layout.version_file("iris", 1)
    text = path.read_text(encoding="utf-8").replace('type = "double"', "type = 12")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DamagedStore, match=r"1\.toml.*\[mlmodel\]: signature\.inputs\[0\]\.type"):
        Registry(registry.root).get_model_version("iris", 1)


def test_the_record_round_trips() -> None:
    info = MLmodelInfo(
        flavors=(("onnx", (("onnx_version", "1.16"),)), ("python_function", ())),
        signature=Signature(
            inputs=(SignatureField("x", "tensor", True, "float32", (-1, 3)),),
            params=(SignatureField("k", "long", True, default="3", shape=None),),
        ),
        mlflow_version="3.1.0",
    )
    table = tomllib.loads(files.dumps_toml({"mlmodel": mlmodel_toml(info)}))["mlmodel"]
    assert mlmodel_from_table(table) == info


# ------------------------------------------------------------------------- show, JSON, search


def test_versions_show_prints_the_signature_tables(cli: Cli, registry: Registry, isolated: Path) -> None:
    registry.create_model_version(
        "iris", mlmodel_folder(isolated, with_signature(COLUMNS, TENSORS_OUT, PARAMS))
    )
    out = cli("versions", "show", "iris", "1").stdout
    assert "mlmodel      MLflow 2.14.1, created 2024-06-01 10:00:00.123456, uuid 3b5d1e0f" in out
    assert "flavor       sklearn  pickled_model=model.pkl  serialization_format=cloudpickle" in out
    assert "\nInputs (5)\n  name               type" in out
    assert "  sepal length (cm)  double" in out and "optional" in out
    assert (
        "\nOutputs (1)\n  name  type    dtype    shape     required\n"
        "  p     tensor  float64  [-1, 10]  required" in out
    )
    assert "\nParams (2)\n  name    type    default     shape\n  alpha   double  0.5" in out


def test_versions_show_on_a_terminal(
    cli: Cli, registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import mreg.cli.versions as versions

    registry.create_model_version("iris", mlmodel_folder(isolated, with_signature(TENSORS_IN)))
    monkeypatch.setattr(versions, "stdout_is_terminal", lambda: True)
    out = cli("versions", "show", "iris", "1").stdout
    assert "Inputs (1)" in out and "Outputs (0)" in out and "float32" in out and "[-1, 28, 28]" in out
    assert "Params" not in out


def test_json_carries_the_metadata_and_fits_the_schema(cli: Cli, registry: Registry, isolated: Path) -> None:
    registry.create_model_version(
        "iris", mlmodel_folder(isolated, with_signature(COLUMNS, TENSORS_OUT, PARAMS))
    )
    data = json.loads(cli("versions", "show", "iris", "1", "--json").stdout)
    assert validate(data, SCHEMA["$defs"]["ModelVersion"], SCHEMA) == []
    assert data["mlmodel"]["flavors"]["sklearn"]["sklearn_version"] == "1.5.0"
    assert data["mlmodel"]["signature"]["outputs"][0] == {
        "name": "p",
        "type": "tensor",
        "required": True,
        "dtype": "float64",
        "shape": [-1, 10],
        "default": None,
    }
    resolved = json.loads(cli("resolve", "iris/1", "--json").stdout)
    assert validate(resolved, SCHEMA["$defs"]["ResolvedVersion"], SCHEMA) == []
    assert resolved["mlmodel"] == data["mlmodel"]


def test_json_of_a_version_without_mlmodel_has_null(cli: Cli, registry: Registry, model_dir: Path) -> None:
    registry.create_model_version("plain", model_dir)
    data = json.loads(cli("versions", "show", "plain", "1", "--json").stdout)
    assert data["mlmodel"] is None
    assert validate(data, SCHEMA["$defs"]["ModelVersion"], SCHEMA) == []


@pytest.fixture
def flavored(registry: Registry, isolated: Path, model_dir: Path) -> Registry:
    registry.create_model_version("iris", mlmodel_folder(isolated, SKLEARN, "sk"))  # python_function, sklearn
    registry.create_model_version(
        "digits", mlmodel_folder(isolated, "flavors:\n  onnx: {onnx_version: '1.16'}\n", "ox")
    )
    registry.create_model_version("plain", model_dir)
    return registry


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("flavor = 'sklearn'", ["iris"]),
        ("flavor = 'python_function'", ["iris"]),
        ("flavor != 'sklearn'", ["digits", "plain"]),
        ("flavor IN ('onnx', 'sklearn')", ["digits", "iris"]),
        ("flavor NOT IN ('onnx')", ["iris", "plain"]),
        ("flavor LIKE 'sk%'", ["iris"]),
        ("flavor ILIKE 'ONNX'", ["digits"]),
        ("flavor = 'sklearn' AND name = 'digits'", []),
    ],
)
def test_search_by_flavor(flavored: Registry, filter_string: str, expected: list[str]) -> None:
    found = flavored.search_model_versions(filter_string)
    assert sorted(v.name for v in found) == expected


def test_the_cli_filters_by_flavor(cli: Cli, flavored: Registry) -> None:
    result = cli("versions", "list", "--filter", "flavor = 'onnx'", "--json")
    assert [v["name"] for v in json.loads(result.stdout)["model_versions"]] == ["digits"]
    wrong = cli("versions", "list", "--filter", "flavors = 'onnx'")
    assert wrong.exit_code == 1 and "found 'flavors'" in wrong.stderr and ", flavor, " in wrong.stderr


# --------------------------------------------------------------------------------- imports


def test_registering_a_folder_without_mlmodel_imports_no_yaml(
    registry: Registry, model_dir: Path, tmp_path: Path
) -> None:
    modules = modules_of(tmp_path, "--store", str(registry.root), "register", str(model_dir), "--name", "m")
    assert "mreg.modelmeta" in modules  # the check ran
    assert sorted(m for m in modules if m.split(".")[0] == "yaml" or m == "mreg.mlmodel") == []


def test_registering_a_folder_with_mlmodel_reads_it(
    registry: Registry, isolated: Path, tmp_path: Path
) -> None:
    folder = mlmodel_folder(isolated, SKLEARN)
    modules = modules_of(tmp_path, "--store", str(registry.root), "register", str(folder), "--name", "m")
    assert {"yaml", "mreg.mlmodel"} <= modules
    assert not any(m.split(".")[0] == "mlflow" for m in modules)
    assert Registry(registry.root).get_model_version("m", 1).mlmodel is not None


# ------------------------------------------------------------------------ a model saved by MLflow


def test_a_pyfunc_model_saved_by_mlflow(
    cli: Cli, registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (isolated / "mlruns").as_uri())
    import mlflow
    import pandas as pd
    from mlflow.models import infer_signature

    class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
        def predict(self, context: Any, model_input: Any, params: Any = None) -> Any:
            return model_input * 2

    frame = pd.DataFrame({"x": [1.0, 2.0], "label": ["a", "b"]})
    signature = infer_signature(frame[["x"]], frame[["x"]] * 2, params={"scale": 2})
    saved = isolated / "doubler"
    mlflow.pyfunc.save_model(str(saved), python_model=Doubler(), signature=signature)

    mv = registry.create_model_version("doubler", saved)
    info = Registry(registry.root).get_model_version("doubler", 1).mlmodel
    assert info is not None and info == mv.mlmodel
    assert "python_function" in info.flavor_names
    fields = dict(dict(info.flavors)["python_function"])
    assert fields["loader_module"] == "mlflow.pyfunc.model"
    assert fields["python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert info.mlflow_version == mlflow.__version__
    assert info.model_uuid and info.utc_time_created
    assert info.signature is not None
    assert [(f.name, f.type, f.required) for f in info.signature.inputs] == [("x", "double", True)]
    assert [(f.name, f.type) for f in info.signature.outputs] == [("x", "double")]
    assert [(p.name, p.type, p.default) for p in info.signature.params] == [("scale", "long", "2")]

    out = cli("versions", "show", "doubler", "1").stdout
    assert "\nInputs (1)\n" in out and "\nOutputs (1)\n" in out and "\nParams (1)\n" in out
    assert "loader_module=mlflow.pyfunc.model" in out
    assert [v.name for v in registry.search_model_versions("flavor = 'python_function'")] == ["doubler"]


def test_mreg_import_mlflow_records_the_metadata(
    cli: Cli, registry: Registry, isolated: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import warnings

    from mlflow import MlflowClient

    base = isolated / "mlflow"
    base.mkdir()
    uri = f"sqlite:///{base / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=uri, registry_uri=uri)
        experiment = client.create_experiment("train", artifact_location=(base / "artifacts").as_uri())
        run_id = client.create_run(experiment).info.run_id
        client.log_artifacts(run_id, str(mlmodel_folder(isolated, with_signature(COLUMNS))), "model")
        client.create_registered_model("iris")
        client.create_model_version("iris", f"runs:/{run_id}/model", run_id=run_id)
    result = cli("--store", str(registry.root), "import", "mlflow", uri)
    assert result.exit_code == 0, result.stderr
    info = Registry(registry.root).get_model_version("iris", 1).mlmodel
    assert info is not None and info.flavor_names == ("python_function", "sklearn")
    assert info.signature is not None and len(info.signature.inputs) == 5
