"""Headless Chromium (Debian's ``chromium``) for checking report.html as a browser renders it.

``require_chromium()`` skips a test locally when Chromium is not installed and fails it under
``CI=true`` (CI installs it, like mosquitto). Each call runs a fresh browser with its own
profile, JavaScript on: a test can see whether anything in the page ran.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

TIMEOUT_S = 90


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _require(tool: str, found: str | None, package: str) -> str:
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{tool} is not installed, and CI=true: install {package}")
        pytest.skip(f"{tool} is not installed (apt-get install {package})")
    return found


def require_chromium() -> str:
    return _require("chromium", chromium_path(), "chromium")


def require_pdftotext() -> str:
    return _require("pdftotext", shutil.which("pdftotext"), "poppler-utils")


def run_chromium(*args: str) -> subprocess.CompletedProcess[bytes]:
    binary = require_chromium()
    with tempfile.TemporaryDirectory(prefix="cg-chromium-") as profile:
        return subprocess.run(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={profile}", "--hide-scrollbars",
             "--virtual-time-budget=3000", *args],
            capture_output=True, timeout=TIMEOUT_S, check=True)


def dump_dom(page: Path) -> str:
    """The DOM after the page loaded and any script had three seconds to run."""
    return run_chromium("--dump-dom", page.resolve().as_uri()).stdout.decode("utf-8")


def screenshot(page: Path, out: Path, width: int = 1200, height: int = 1600) -> Path:
    run_chromium(f"--screenshot={out}", f"--window-size={width},{height}",
                 page.resolve().as_uri())
    return out


def print_pdf(page: Path, out: Path) -> Path:
    """Print the page as a user's browser would (A4 by the page's CSS, no header/footer)."""
    run_chromium(f"--print-to-pdf={out}", "--no-pdf-header-footer", page.resolve().as_uri())
    return out


def pdf_pages_text(pdf: Path) -> list[str]:
    """The text of each page (poppler's pdftotext, an independent reader of the PDF)."""
    tool = require_pdftotext()
    text = subprocess.run([tool, "-layout", str(pdf), "-"], capture_output=True, check=True,
                          timeout=60).stdout.decode("utf-8")
    pages = text.split("\f")
    return pages[:-1] if pages and not pages[-1].strip() else pages


def pdf_images_per_page(pdf: Path, pages: int) -> list[int]:
    """How many images each page holds (poppler's pdfimages -list): pdftotext shows no
    images, so this tells whether a heading's plot is on its page."""
    tool = _require("pdfimages", shutil.which("pdfimages"), "poppler-utils")
    listing = subprocess.run([tool, "-list", str(pdf)], capture_output=True, check=True,
                             timeout=60).stdout.decode("utf-8").splitlines()
    counts = [0] * pages
    for line in listing[2:]:
        fields = line.split()
        if len(fields) > 2 and fields[0].isdigit() and fields[2] == "image":
            counts[int(fields[0]) - 1] += 1
    return counts
