"""Sphinx configuration of the skhyre documentation.

Build it offline with one command, from the repository root::

    python -m sphinx -W -b html docs docs/_build/html

Environment variables:

``SKHYRE_DOCS_PLOT=0``
    Do not run the gallery examples (a quick build of the text only).
``SKHYRE_DOCS_INTERSPHINX=1``
    Link to the NumPy/SciPy/scikit-learn/PyTorch documentation through
    intersphinx. Off by default because it downloads inventories.
``SKHYRE_DOCS_MATHJAX=URL``
    Where the pages load MathJax from (for example a local copy of
    ``tex-chtml.js`` to read the equations offline); by default Sphinx's CDN.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from datetime import date
from pathlib import Path

import skhyre

sys.path.insert(0, str(Path(__file__).resolve().parent / "sphinxext"))

# Nothing in the build may reach the network: sentence-transformers and the
# Hugging Face hub only read local files.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

# -- Project -----------------------------------------------------------------
project = "skhyre"
author = "skhyre developers"
copyright = f"{date.today().year}, {author}"
release = skhyre.__version__
version = ".".join(release.split(".")[:2])

# -- General -----------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "README.md", "**/README.md", "sphinxext"]
root_doc = "index"
default_role = "literal"
pygments_style = "sphinx"

# Intersphinx needs the network; it is opt-in.
if os.environ.get("SKHYRE_DOCS_INTERSPHINX") == "1":
    extensions.append("sphinx.ext.intersphinx")
    intersphinx_mapping = {
        "python": ("https://docs.python.org/3", None),
        "numpy": ("https://numpy.org/doc/stable", None),
        "scipy": ("https://docs.scipy.org/doc/scipy", None),
        "sklearn": ("https://scikit-learn.org/stable", None),
        "torch": ("https://pytorch.org/docs/stable", None),
        "skorch": ("https://skorch.readthedocs.io/en/stable", None),
        "matplotlib": ("https://matplotlib.org/stable", None),
        "dask": ("https://docs.dask.org/en/stable", None),
        "joblib": ("https://joblib.readthedocs.io/en/stable", None),
    }

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = True
autodoc_typehints = "none"  # numpydoc's sections document the types
numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False
add_module_names = False
# scikit-learn's generic methods (parameters, metadata routing, output
# containers) are documented by scikit-learn, not repeated on every class.
autosummary_context = {
    "skip_methods": [
        "__init__",
        "get_params",
        "set_params",
        "get_metadata_routing",
        "set_fit_request",
        "set_predict_request",
        "set_score_request",
        "set_transform_request",
        "set_inverse_transform_request",
        "set_predict_proba_request",
        "set_partial_fit_request",
        "set_output",
        "get_feature_names_out",
    ]
}

# "name : type" lines of numpydoc sections. numpydoc leaves the type to
# reStructuredText, where a shape such as "(n_components_,)" reads as a
# hyperlink reference and "(n, *output_shape_)" as the start of emphasis.
_TYPE_LINE = re.compile(r"^(\s*[A-Za-z_*][\w*, ]* : )(.+)$")
_TRAILING_UNDERSCORE = re.compile(r"(?<=\w)_(?=[\s,)\]]|$)")


def _escape_type_specs(app, what, name, obj, options, lines):
    """Escape reStructuredText markup characters in skhyre's type specs."""
    if not (getattr(obj, "__module__", "") or "").startswith("skhyre"):
        return
    for i, line in enumerate(lines):
        m = _TYPE_LINE.match(line)
        if m is None or ">>>" in line or "`" in m.group(2):
            continue
        spec = _TRAILING_UNDERSCORE.sub(r"\\_", m.group(2))
        spec = re.sub(r"(?<!\\)\*", r"\\*", spec)
        lines[i] = m.group(1) + spec


def _strip_unresolvable_refs(app, what, name, obj, options, lines):
    """Render scikit-learn's ``:ref:`` roles as plain text when offline.

    Inherited scikit-learn methods (``score``) link to labels of scikit-learn's
    own user guide, which only intersphinx can resolve.
    """
    if "sphinx.ext.intersphinx" in app.config.extensions:
        return
    if not (getattr(obj, "__module__", "") or "").startswith("sklearn"):
        return
    for i, line in enumerate(lines):
        line = re.sub(r":ref:`([^`<]+?)\s*<[^`>]+>`", r"\1", line)
        lines[i] = re.sub(r":ref:`([^`]+)`", r"``\1``", line)


def setup(app):
    # before numpydoc (priority 500) turns the docstring into reStructuredText
    app.connect("autodoc-process-docstring", _escape_type_specs, priority=400)
    app.connect("autodoc-process-docstring", _strip_unresolvable_refs)


# -- HTML --------------------------------------------------------------------
if os.environ.get("SKHYRE_DOCS_MATHJAX"):
    mathjax_path = os.environ["SKHYRE_DOCS_MATHJAX"]
html_theme = "pydata_sphinx_theme"
html_title = f"skhyre {release}"
html_static_path = ["_static"]
html_css_files = ["skhyre.css"]
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "secondary_sidebar_items": ["page-toc", "sourcelink"],
}
html_sidebars = {"index": [], "install": []}
html_show_sourcelink = True

# -- sphinx-gallery ----------------------------------------------------------
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "gallery_hooks.ExampleOrder",
    "backreferences_dir": "gen_modules/backreferences",
    "doc_module": ("skhyre",),
    "reference_url": {"skhyre": None},
    "plot_gallery": "False" if os.environ.get("SKHYRE_DOCS_PLOT") == "0" else "True",
    # named by import path, not passed as a function, so that Sphinx can
    # pickle its configuration (docs/sphinxext/gallery_hooks.py)
    "reset_modules": ("matplotlib", "gallery_hooks.reset_torch"),
    "abort_on_example_error": True,
    "write_computation_times": False,
    "remove_config_comments": True,
    "download_all_examples": False,
    "min_reported_time": 1,
    "show_memory": False,
}

# Libraries warn at import time about their own deprecations; those are not
# warnings about this documentation.
warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", category=FutureWarning, module="sentence_transformers")
