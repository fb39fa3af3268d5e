"""Params: frozen typed sections; unknown keys fail naming the key and the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from stages.params import GenerateParams, ParamsError, check_sections, load_section, parse_section

ROOT = Path(__file__).resolve().parents[1]


def test_repository_params_file_loads_every_section() -> None:
    check_sections(ROOT / "params.yaml")
    for section in ("base", "prepare", "generate", "verify", "analyze"):
        load_section(section, ROOT / "params.yaml")


def test_unknown_key_names_key_and_file(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("generate:\n  n_sample: 10\n")
    with pytest.raises(ParamsError, match=r"params.yaml: unknown key 'generate.n_sample'"):
        load_section("generate", p)


def test_nested_unknown_key(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("generate:\n  synthetic:\n    alpah: 1\n")
    with pytest.raises(ParamsError, match=r"generate.synthetic.alpah"):
        load_section("generate", p)


def test_bad_value_and_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("generate:\n  n_samples: -3\n")
    with pytest.raises(ParamsError, match="generate.n_samples"):
        load_section("generate", p)
    p.write_text("generate: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_section("generate", p)
    with pytest.raises(ParamsError, match="not found"):
        load_section("generate", tmp_path / "nope.yaml")


def test_unknown_section(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("genrate:\n  n_samples: 3\n")
    with pytest.raises(ParamsError, match="unknown section 'genrate'"):
        check_sections(p)


def test_settings_are_frozen() -> None:
    g = GenerateParams()
    with pytest.raises(Exception):
        g.n_samples = 5  # type: ignore[misc]


def test_every_stage_rejects_a_misspelt_section_naming_it_and_the_file(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("analyse:\n  bootstrap: 10\n")
    with pytest.raises(ParamsError, match=r"params.yaml: unknown section 'analyse'"):
        load_section("analyze", p)  # what every stage's main() calls


def test_prompt_templates_come_from_the_prompts_file(tmp_path: Path) -> None:
    """Templates live in ``generate.prompts_file``, not params.yaml (``dvc exp show`` gets one
    column, not one per multi-line template); inline keys override the file's; a bad file is
    named in one line."""
    import yaml

    generate = yaml.safe_load((ROOT / "params.yaml").read_text())["generate"]
    assert "prompts" not in generate and generate["prompts_file"] == "stages/backends/prompts.yaml"
    loaded = load_section("generate", ROOT / "params.yaml")
    assert "{prompt}" in loaded.prompts.code_chat and "\\boxed{}" in loaded.prompts.math
    own = tmp_path / "prompts.yaml"
    own.write_text('code_completion: "{prompt}"\ncode_chat: "C {prompt}"\nmath: "M {prompt}"\n')
    mine = parse_section(GenerateParams, "generate", {"prompts_file": str(own), "prompts": {"math": "X"}})
    assert (mine.prompts.code_chat, mine.prompts.math) == ("C {prompt}", "X")
    with pytest.raises(ParamsError, match=r"generate.prompts_file: .*nope.yaml: file not found"):
        parse_section(GenerateParams, "generate", {"prompts_file": str(tmp_path / "nope.yaml")})
    own.write_text('code_chat: "C"\nmaths: "M"\n')
    with pytest.raises(ParamsError, match="unknown key 'prompts.maths'"):
        parse_section(GenerateParams, "generate", {"prompts_file": str(own)})


def test_an_edited_prompts_file_is_read_again(tmp_path: Path) -> None:
    """Templates are parsed once per content (every GenerateParams validation asks), so an edit
    made within the same filesystem tick still shows."""
    own = tmp_path / "prompts.yaml"
    for version in ("one", "two"):
        own.write_text(f'code_completion: "{{prompt}}"\ncode_chat: "{version}"\nmath: "M"\n')
        got = parse_section(GenerateParams, "generate", {"prompts_file": str(own)})
        assert got.prompts.code_chat == version


def test_generate_stage_depends_on_the_prompts_file() -> None:
    """Editing the templates re-runs generation: the file is a dep of the generate stage."""
    import yaml

    deps = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["generate"]["deps"]
    assert "${generate.prompts_file}" in deps
