"""Browser-test machinery (issue 6): JupyterLab + Debian's Chromium + Playwright, used by
``tests/test_browser.py`` to open the course notebooks as a person does and move their sliders."""
