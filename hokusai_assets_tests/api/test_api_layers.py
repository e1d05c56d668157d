"""The API's layering: FastAPI only inside hokusai/api, and not even there for the key CLI;
no Dagster in the API; the environment read only by hokusai/settings.py."""

from __future__ import annotations

import re
import subprocess
import sys

from hokusai.settings import REPO_ROOT

WEB = re.compile(r"^\s*(from|import)\s+(fastapi|starlette|uvicorn)\b", re.MULTILINE)


def test_fastapi_is_imported_only_inside_hokusai_api():
    outside = [str(path.relative_to(REPO_ROOT)) for folder in ("hokusai", "resources", "sensors", "hokusai_assets")
               for path in (REPO_ROOT / folder).rglob("*.py")
               if "hokusai/api/" not in path.as_posix() and WEB.search(path.read_text())]
    assert outside == []


def test_the_key_store_and_sign_in_rules_import_no_web_framework_and_the_app_no_dagster():
    code = ("import sys, hokusai.api.cli, hokusai.api.keys, hokusai.api.siwe, hokusai.api.sessions, "
            "hokusai.api.throttle, hokusai.api.uploads, hokusai.contribution_status; "
            "web = sorted({'fastapi', 'starlette', 'uvicorn', 'dagster'} & set(sys.modules)); "
            "import hokusai.api.app; "
            "orchestrator = sorted({'dagster', 'hokusai_assets'} & set(sys.modules)); "
            "print(web, orchestrator); sys.exit(1 if web or orchestrator else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_api_reads_no_environment_of_its_own():
    readers = [str(path.relative_to(REPO_ROOT)) for path in (REPO_ROOT / "hokusai" / "api").rglob("*.py")
               if re.search(r"os\.environ|getenv\(", path.read_text())]
    assert readers == []
