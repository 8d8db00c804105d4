"""Sphinx configuration of the multiproj documentation (``make docs``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the package of this checkout wins over any installed copy
sys.path.insert(0, str(ROOT / "src"))
os.environ.setdefault("MPLBACKEND", "Agg")

import multiproj  # noqa: E402

project = "multiproj"
author = "multiproj developers"
copyright = "2026, multiproj developers"
release = multiproj.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
templates_path = ["_templates"]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store", "auto_examples/*.ipynb",
                    "auto_examples/*.py", "auto_examples/*.zip", "bench/*.csv"]

# ----------------------------------------------------------------------------- API pages
autosummary_generate = True
autosummary_imported_members = True
autodoc_default_options = {"members": True, "inherited-members": False}
autodoc_typehints = "none"  # numpydoc's Parameters section already says the types
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
numpydoc_validation_checks: set[str] = set()

# ----------------------------------------------------------------------------- markdown
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3

# ----------------------------------------------------------------------------- gallery
# every examples/plot_*.py is executed and shown; other files there are ignored
sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"[\\/]plot_",
    "ignore_pattern": r"__init__\.py|[\\/](?!plot_)[^\\/]*\.py$",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": True,
    "matplotlib_animations": False,
    "reset_modules": ("matplotlib",),
    "thumbnail_size": (400, 280),
    "min_reported_time": 1,
}

# ----------------------------------------------------------------------------- HTML
html_theme = "pydata_sphinx_theme"
html_title = f"multiproj {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc"],
}
html_context = {"default_mode": "light"}
# pages without sub-pages get the full width instead of an empty navigation column
html_sidebars = {"index": [], "getting_started": [], "api": [], "benchmarks": [], "references": []}
pygments_style = "sphinx"


def _skip_member(app, what, name, obj, skip, options):
    # scikit-learn generates set_*_request methods (metadata routing) whose docstrings
    # point into scikit-learn's own glossary
    if name.startswith("set_") and name.endswith("_request"):
        return True
    return None


def setup(app):
    app.connect("autodoc-skip-member", _skip_member)
