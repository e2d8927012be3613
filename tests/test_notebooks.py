"""The chapters as stored: no outputs, the standard setup cell, all in the table of contents."""

import json
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tools.setup_cell import first_code_cell, repository_url, setup_cell_source  # noqa: E402

NOTEBOOKS = sorted((ROOT / "book").glob("*.ipynb"))


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_there_are_chapters():
    assert NOTEBOOKS, "book/ holds no notebooks"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_stored_without_outputs(path):
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name} has stored outputs: strip them"
            assert cell["execution_count"] is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_first_code_cell_is_the_setup_cell(path):
    cell = first_code_cell(load(path))
    assert cell is not None
    assert "".join(cell["source"]) == setup_cell_source(), (
        f"{path.name}: the first code cell differs from the setup cell; "
        "run `python tools/setup_cell.py`"
    )


def test_setup_cell_installs_from_the_configured_repository():
    url = repository_url()
    assert url.startswith("https://github.com/")
    assert f"git+{url}" in setup_cell_source()
    assert "torch.manual_seed(0)" in setup_cell_source()
    assert "np.random.seed(0)" in setup_cell_source()
    # Colab's pip may be old: without this flag it prints "a new release of pip" despite -q
    assert 'pip.append("--disable-pip-version-check")' in setup_cell_source()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_code_cell_follows_a_sentence(path):
    previous = None
    for cell in load(path)["cells"]:
        if cell["cell_type"] == "code" and "hide-cell" not in cell["metadata"].get("tags", []):
            assert previous == "markdown", (
                f"{path.name}: a code cell starting {''.join(cell['source'])[:60]!r} "
                "has no sentence before it"
            )
        previous = cell["cell_type"]


def test_every_notebook_is_in_the_table_of_contents():
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    listed = set(re.findall(r"file:\s*(\S+)", toc))
    for path in NOTEBOOKS:
        assert f"book/{path.stem}" in listed, f"{path.name} is missing from _toc.yml"
    for entry in listed:
        assert any((ROOT / f"{entry}{suffix}").exists() for suffix in (".ipynb", ".md")), entry


def test_nothing_is_downloaded_at_run_time():
    pattern = re.compile(r"urlopen|requests\.get|urlretrieve|wget |curl |download=True")
    for path in NOTEBOOKS:
        for cell in load(path)["cells"]:
            assert not pattern.search("".join(cell["source"])), f"{path.name} downloads data"


def test_glossary_gives_each_term_in_chinese_with_its_chapter():
    text = (ROOT / "book" / "glossary.md").read_text(encoding="utf-8")
    body = text.split("```{glossary}")[1].split("```")[0]
    entries = re.split(r"\n(?=\S)", body.strip())
    chapters = {path.stem for path in NOTEBOOKS} | {"training"}  # and "Training in one page"
    terms = []
    for entry in entries:
        term = entry.splitlines()[0]
        terms.append(term)
        assert re.search(r"[\u4e00-\u9fff]", term), f"glossary term without Chinese: {term}"
        linked = re.findall(r"\{doc\}`([^`]+)`", " ".join(entry.split()))
        assert linked and set(linked) <= chapters, f"{term}: no link to a chapter ({linked})"
    for required in ("自回归", "位置嵌入", "掩码注意力", "交叉注意力", "残差连接", "层归一化"):
        assert required in body
    for required in ("前馈网络", "独热编码", "图像块"):
        assert required in body
    # The notes' own words (issue 12, item 10), each in a term line, not only in a definition.
    notes_words = ("标准化", "前馈神经网络", "全连接层", "梯度消失", "TRM", "编码器", "解码器")
    notes_words += ("自注意力", "教师强制", "logits", "前置层归一化", "后置层归一化", "类别标记")
    notes_words += ("[CLS]", "交叉熵", "验证集")
    for required in notes_words:
        assert any(required in term for term in terms), f"no glossary term for {required}"
    assert "softmax (归一化指数函数)" in terms  # softmax is the head term, the Chinese name beside
