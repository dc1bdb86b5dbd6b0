"""`make mutation`: mutation testing (cosmic-ray) of the security-critical modules.

Each target module is mutated one small change at a time (an operator swapped, a comparison
inverted, a constant changed, a `return True` where `False` was, ...) and only the tests that guard
it are run; a mutant that no test notices "survives". Survivors are printed and must each be killed
by a new test or explained in docs/mutation.md.

The work happens in a throw-away copy of the committed tree (cosmic-ray edits files in place), next
to a link to ../shared, so the working tree is never touched. Usage:

    python scripts/mutation.py [MODULE_SUBSTRING ...]     # all targets, or those matching
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: module -> the tests that guard it (kept small: each mutant runs them once)
TARGETS: dict[str, list[str]] = {
    "gateway/exchange/edrpou.py": [
        "tests/test_edrpou.py",
        "tests/test_mutation_guards.py::test_real_edrpou_codes_have_valid_check_digits",
    ],
    "gateway/signing/tsa.py": [
        "tests/test_mutation_guards.py::test_timestamp_token_with_a_broken_signature_is_refused",
        "tests/test_cades_sign.py::test_timestamp_with_other_imprint_refused",
        "tests/test_cades_sign.py::test_unreachable_tsa_is_one_line",
        "tests/test_cades_sign.py::test_tsa_answer_for_another_digest_is_not_embedded",
        "tests/test_cades_sign.py::test_bt_signature_timestamp_verified_by_openssl_ts",
    ],
    "gateway/signing/validation/signerinfo.py": [
        "tests/test_mutation_guards.py", "tests/test_validation.py",
    ],
    "gateway/signing/algorithms.py": ["tests/test_mutation_guards.py", "tests/test_validation.py"],
    "gateway/signing/validation/pdf.py": ["tests/test_validation_pdf.py", "tests/test_val_pdf_changes.py"],
    "gateway/api/gatekeeper.py": ["tests/test_security_api.py"],
}

CONFIG = """[cosmic-ray]
module-path = "{module}"
timeout = 120.0
excluded-modules = []
test-command = "{python} -m pytest -x -q -p no:xdist -p no:cacheprovider {tests}"

[cosmic-ray.distributor]
name = "local"
"""


def _copy_tree(dest: Path) -> Path:
    """The committed tree (plus built extensions) in dest/repo, with dest/shared -> ../shared."""
    repo = dest / "repo"
    repo.mkdir()
    archive = subprocess.run(["git", "-C", str(REPO), "archive", "HEAD"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(repo)], input=archive.stdout, check=True)
    for built in REPO.glob("gateway/**/*.so"):
        target = repo / built.relative_to(REPO)
        shutil.copy2(built, target)
    shared = REPO.parent / "shared"
    if shared.is_dir():
        (dest / "shared").symlink_to(shared)
    return repo


def _survivors(session: Path, cosmic: Path) -> tuple[int, list[dict]]:
    dump = subprocess.run([str(cosmic), "dump", str(session)], capture_output=True, text=True, check=True)
    total, survived = 0, []
    for line in dump.stdout.splitlines():
        item, result = json.loads(line)
        if not result:
            continue
        total += 1
        if result.get("test_outcome") == "survived":
            for m in item["mutations"]:
                survived.append({"line": m["start_pos"][0], "operator": m["operator_name"],
                                 "occurrence": m["occurrence"], "diff": result.get("diff", "")})
    return total, survived


def main(argv: list[str]) -> int:
    cosmic = Path(sys.executable).with_name("cosmic-ray")
    if not cosmic.exists():
        print("cosmic-ray is not installed: pip install -e '.[test]'", file=sys.stderr)
        return 2
    chosen = {m: t for m, t in TARGETS.items() if not argv or any(a in m for a in argv)}
    all_survivors = 0
    with tempfile.TemporaryDirectory(prefix="mutation-") as folder:
        repo = _copy_tree(Path(folder))
        for module, tests in chosen.items():
            if not (repo / module).is_file():
                print(f"{module}: not in this tree, skipped")
                continue
            config = repo / "cosmic-ray.toml"
            config.write_text(CONFIG.format(module=module, python=sys.executable, tests=" ".join(tests)))
            session = repo / f"{Path(module).stem}.sqlite"
            subprocess.run([str(cosmic), "init", str(config), str(session)], cwd=repo, check=True)
            subprocess.run([str(cosmic), "exec", str(config), str(session)], cwd=repo, check=True)
            total, survived = _survivors(session, cosmic)
            all_survivors += len(survived)
            print(f"{module}: {total} mutants, {total - len(survived)} killed, {len(survived)} survived")
            for s in survived:
                print(f"  line {s['line']}: {s['operator']} #{s['occurrence']}")
                print("    " + "\n    ".join(s["diff"].splitlines()[2:]))
    return 1 if all_survivors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
