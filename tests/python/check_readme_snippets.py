"""Runs every ```python block of README.md against a running `ragperf mock`, exactly as a user
would paste it, with the README's default ports replaced by the ones the mock is on.

Usage: check_readme_snippets.py QDRANT_URL BEDROCK_URL
"""
import contextlib
import io
import pathlib
import re
import sys
import traceback

qdrant, bedrock = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
readme = pathlib.Path(__file__).resolve().parents[2] / "README.md"
blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), re.S)
passed = failed = 0
if not blocks:
    print("no python snippets found in README.md")
    failed += 1
for i, code in enumerate(blocks, 1):
    code = code.replace("http://127.0.0.1:8000", bedrock).replace("http://127.0.0.1:6333", qdrant)
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            exec(compile(code, f"README python block {i}", "exec"), {})
        if not out.getvalue().strip():
            raise AssertionError("the snippet printed nothing")
        print(f"ok   README python block {i} ({len(out.getvalue())} chars printed)")
        passed += 1
    except Exception:
        print(f"FAIL README python block {i}:\n{code}")
        traceback.print_exc()
        failed += 1
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
