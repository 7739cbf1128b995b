"""The site extension's pieces that need no build: asset fetching, notebook downloads."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import nbformat
import pytest

from dlcourse import sphinxext
from dlcourse.sphinxext import WIDGET_VIEW, AssetError, NpmAsset, downloadable_notebook


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.fixture
def fake_registry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """The registry download replaced by a copy of a small local tarball; counts its calls."""
    source = _tarball(tmp_path / "pkg.tgz", {
        "LICENSE": b"license", "es5/tex-chtml.js": b"mathjax();",
        "es5/output/chtml/fonts/woff-v2/a.woff": b"font", "es5/tex-svg.js": b"unused",
    })
    state = {"calls": 0, "integrity": sphinxext._sri_sha512(source)}

    def pack(asset: NpmAsset, into: Path) -> Path:
        state["calls"] += 1
        target = into / "pkg.tgz"
        target.write_bytes(source.read_bytes())
        return target

    monkeypatch.setattr(sphinxext, "_download", pack)
    return state


def _asset(integrity: str) -> NpmAsset:
    return NpmAsset("mathjax", "9.9.9", integrity, "mathjax", "es5/",
                    ("LICENSE", "es5/tex-chtml.js", "es5/output/chtml/fonts/woff-v2/"))


def test_an_asset_is_fetched_once_with_only_the_kept_files(tmp_path: Path, fake_registry: dict) -> None:
    asset = _asset(fake_registry["integrity"])
    dest = sphinxext.ensure_asset(asset, tmp_path / "_vendor")
    files = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert files == [".dlcourse-asset", "LICENSE", "output/chtml/fonts/woff-v2/a.woff",
                     "tex-chtml.js"]
    assert sphinxext.ensure_asset(asset, tmp_path / "_vendor") == dest
    assert fake_registry["calls"] == 1
    assert not list((tmp_path / "_vendor").glob(".fetch-*")), "temporary folders are removed"


def test_a_tarball_with_the_wrong_checksum_is_refused(tmp_path: Path, fake_registry: dict) -> None:
    with pytest.raises(AssetError, match="checksum mismatch"):
        sphinxext.ensure_asset(_asset("sha512-AAAA"), tmp_path / "_vendor")
    assert not (tmp_path / "_vendor" / "mathjax").exists()


def test_a_new_pin_replaces_the_old_copy(tmp_path: Path, fake_registry: dict) -> None:
    dest = tmp_path / "_vendor" / "mathjax"
    dest.mkdir(parents=True)
    (dest / "old.js").write_text("old")
    (dest / ".dlcourse-asset").write_text("mathjax@3.0.0 sha512-old\n")
    sphinxext.ensure_asset(_asset(fake_registry["integrity"]), tmp_path / "_vendor")
    assert not (dest / "old.js").exists() and (dest / "tex-chtml.js").is_file()


def test_the_pinned_mathjax_keeps_the_component_the_config_names() -> None:
    config = (Path(__file__).resolve().parents[1] / "_config.yml").read_text()
    assert "mathjax_path: mathjax/tex-chtml.js" in config
    assert sphinxext.MATHJAX.folder == "mathjax"
    assert "es5/tex-chtml.js" in sphinxext.MATHJAX.keep
    assert sphinxext.MATHJAX.integrity.startswith("sha512-")


def test_the_downloaded_notebook_has_no_widgets_and_a_setup_cell() -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    nb.metadata["source_map"] = [1, 2]
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("quiz", outputs=[nbformat.v4.new_output(
            "display_data",
            data={"text/html": "<div>quiz</div>", "text/plain": "Quiz",
                  WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}},
        )]),
    ]
    out = downloadable_notebook(nb, "https://github.com/org/repo/")
    nbformat.validate(out)
    assert "widgets" not in out.metadata and "source_map" not in out.metadata
    assert out.cells[0].metadata["tags"] == ["dlcourse-setup"]
    assert "git+https://github.com/org/repo" in out.cells[0].source
    data = out.cells[2].outputs[0]["data"]
    assert set(data) == {"text/html", "text/plain"}
    assert "widgets" in nb.metadata, "the input notebook is left alone"
    assert [c.cell_type for c in downloadable_notebook(nb).cells] == ["markdown", "code"]


def test_repeated_inline_scripts_are_dropped() -> None:
    from sphinx.builders.html._assets import _JavaScript

    thebe = {"body": "const THEBE_JS_URL = 1"}
    scripts = [_JavaScript(None, **thebe), _JavaScript("_static/a.js"),
               _JavaScript("", **thebe), _JavaScript("_static/a.js", defer="defer")]
    context = {"script_files": scripts}
    sphinxext._dedupe_scripts(None, "page", "page.html", context, None)
    assert context["script_files"] is scripts
    assert [str(js.filename or "") for js in scripts] == ["", "_static/a.js", "_static/a.js"]


def test_mathjax_is_fetched_over_http_without_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real download path (urllib), against a local registry serving a tarball."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    registry = tmp_path / "registry"
    (registry / "mathjax" / "-").mkdir(parents=True)
    tarball = _tarball(registry / "mathjax" / "-" / "mathjax-9.9.9.tgz", {
        "LICENSE": b"license", "es5/tex-chtml.js": b"mathjax();",
        "es5/output/chtml/fonts/woff-v2/a.woff": b"font"})
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(registry))
    handler.log_message = lambda *a: None  # type: ignore[attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setattr(sphinxext, "NPM_REGISTRY", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("PATH", "/nonexistent")  # no npm, no node
        dest = sphinxext.ensure_asset(_asset(sphinxext._sri_sha512(tarball)), tmp_path / "_vendor")
        assert (dest / "tex-chtml.js").read_bytes() == b"mathjax();"
    finally:
        server.shutdown()
        server.server_close()


def test_an_unreachable_registry_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sphinxext, "NPM_REGISTRY", "http://127.0.0.1:9")  # discard port: refused
    monkeypatch.delenv("DLCOURSE_MATHJAX_TARBALL", raising=False)
    with pytest.raises(AssetError, match="DLCOURSE_MATHJAX_TARBALL"):
        sphinxext.ensure_asset(_asset("sha512-AAAA"), tmp_path / "_vendor")


def test_the_tarball_url_is_the_registry_file_npm_pack_gets() -> None:
    assert sphinxext._tarball_url(sphinxext.MATHJAX).endswith("/mathjax/-/mathjax-3.2.2.tgz")


def test_the_language_switch_links_the_same_page_in_the_other_edition() -> None:
    from dlcourse.sphinxext import language_switch_href

    # English at the root, Chinese under zh/: relative links, so file:// works too.
    assert language_switch_href("book/mlp", "en", True) == "../zh/book/mlp.html"
    assert language_switch_href("book/mlp", "zh", True) == "../../book/mlp.html"
    assert language_switch_href("index", "en", True) == "zh/index.html"
    # A page the other edition lacks (the glossary): its front page instead.
    assert language_switch_href("book/glossary", "zh", False) == "../../index.html"
