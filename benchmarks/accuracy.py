#!/usr/bin/env python3
"""Accuracy benchmark: ours (automl) against FLAML, AutoGluon and LightGBM defaults.

For every seed (--seed, --seed+1, ... --seeds of them), every dataset in MANIFEST.tsv (or
--datasets a,b) and every system (--systems), runs benchmarks/run_one.py in its own subprocess with
a hard timeout of budget*3+120 s (so 1,020 s at --budget 300), then prints a markdown table per
dataset and a summary, and writes benchmarks/results/accuracy-<UTC>.jsonl (raw lines, one per
run, failures included, appended as they come) and accuracy-<UTC>.md (the tables). The seed is
the split's random_state and the systems' seed; seed 0 is the split of peers60.jsonl.

    python benchmarks/accuracy.py                          # all datasets, all systems, 60 s
    python benchmarks/accuracy.py --datasets credit_g,vehicle --systems automl,lgbm --budget 10
    python benchmarks/accuracy.py --systems automl --reference   # ours vs peers60.jsonl figures
    python benchmarks/accuracy.py --from-jsonl benchmarks/results/accuracy-....jsonl --reference
    python benchmarks/accuracy.py --seeds 3                # mean and spread over 3 splits
    python benchmarks/accuracy.py --seeds 3 --resume benchmarks/results/accuracy-....jsonl
    python benchmarks/accuracy.py --from-jsonl run60.jsonl peers300.jsonl   # side by side

With one seed at one budget the tables are the single-seed ones below. With several seeds (or
lines at several budgets, as when a 60 s run and a 300 s run of the peers are read together) the
tables are seeded.py's: per system the mean ± sample std over seeds and each seed's value; per
peer ours' edge on each seed (same split), its mean ± std and a call, "ahead" / "behind" only
where |mean edge| > std of the per-seed edges (seeded.py says why this rule); a peer at another
budget than ours is its own column, `flaml@300`, and the summary adds the moonshot count (ours'
mean against the better peer's mean at the larger budget). --resume FILE appends to FILE and
skips every (dataset, system, seed, budget) it already holds, failed ones included unless
--retry-failed; seeds are the outer loop, so a run that dies has whole passes to show.

Interpreters: `automl` and `lgbm` run with this script's interpreter (the main environment, where
the package is installed with `pip install -e .`); `flaml` and `autogluon` with --peers-python
(default $AUTOML_PEERS_PYTHON, else /work/venvs/peers/bin/python). Create that venv outside the
repo, once (it takes a while; torch==2.13.0 is the local CPU wheel, so pip pulls no CUDA torch):

    python3.11 -m venv /work/venvs/peers
    /work/venvs/peers/bin/pip install "flaml[automl]" lightgbm autogluon.tabular catboost \\
        torch==2.13.0 "ray>=2.43.0,<2.59.0" psutil

Edge of ours against a peer (positive = ours better): for binary tasks the AUC difference
(ours - peer, in AUC points); otherwise the relative reduction of log loss or RMSE,
(peer - ours) / peer. "Behind by more than 0.5 %" compares relative gaps for every task (for
AUC: (peer - ours) / peer > 0.005). The mean edge in the summary is the mean relative edge.
With --reference, the peers60.jsonl figure (budget 60, a 2-core machine of this kind) appears as a
reference column, and it stands in for a peer that was not measured in this run (marked "ref").
A failed run (non-zero exit, timeout, unreadable output) is reported with its stderr tail.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import psutil

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from seeded import (  # noqa: E402
    base_budget,
    group_seeded,
    is_seeded,
    render_seeded,
    render_seeded_summary,
)
from suite import (  # noqa: E402
    METRIC_LABEL,
    OURS,
    SYSTEMS,
    Line,
    data_dir,
    edge,
    fmt_edge,
    fnum,
    metric,
    ok,
    read_manifest,
    rel_edge,
)

PEER_VENV_SYSTEMS = {"flaml", "autogluon"}
DEFAULT_PEERS_PYTHON = "/work/venvs/peers/bin/python"
BEHIND_THRESHOLD = 0.005
STDERR_TAIL = 1500


# ---------------------------------------------------------------- running


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill the child, its process group and every descendant we can still see."""
    try:
        descendants = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        descendants = []
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    for child in descendants:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def run_process(cmd: list[str], timeout: float) -> tuple[int | None, str, str]:
    """Run cmd in its own session; returns (exit code or None on timeout, stdout, stderr).

    Output goes to temp files, not pipes, so daemons that outlive the child (ray) cannot hold
    the run open."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
        try:
            code: int | None = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            code = None
        kill_tree(proc)  # leftovers of a finished run too
        proc.wait()
        out.seek(0)
        err.seek(0)
        return code, out.read(), err.read()


def cell_command(python: str, args: argparse.Namespace, cell: tuple) -> list[str]:
    dataset, system, seed = cell
    cmd = [python, str(HERE / "run_one.py"), "--system", system, "--dataset", dataset]
    cmd += ["--budget", str(args.budget), "--seed", str(seed)]
    return cmd + ["--data-dir", str(args.data_dir)]


def parse_cell(code: int | None, stdout: str, stderr: str, timeout: float) -> Line:
    """The run's JSON line, or a failure record with the reason and stderr tail."""
    if code is None:
        reason = f"timed out after {timeout:.0f} s"
    elif code != 0:
        reason = f"exit code {code}"
    else:
        try:
            return json.loads(stdout.strip().splitlines()[-1])
        except (IndexError, json.JSONDecodeError):
            reason = "no JSON line on stdout"
    return {"failed": True, "error": reason, "stderr_tail": stderr[-STDERR_TAIL:]}


def run_cell(args: argparse.Namespace, cell: tuple[str, str, int], task: str) -> Line:
    """Run one (dataset, system, seed) in a subprocess; its line, failures included."""
    dataset, system, seed = cell
    python = args.peers_python if system in PEER_VENV_SYSTEMS else sys.executable
    timeout = args.budget * 3 + 120
    start = time.monotonic()
    code, stdout, stderr = run_process(cell_command(python, args, cell), timeout)
    base = {"dataset": dataset, "system": system, "task": task}
    base |= {"budget": args.budget, "seed": seed}
    line = base | parse_cell(code, stdout, stderr, timeout)
    line["wall_s"] = round(time.monotonic() - start, 1)
    return line


def progress(line: Line) -> None:
    if line.get("failed"):
        status = f"FAILED ({line['error']})"
    else:
        status = f"primary {line['primary']:.4f}, fit {line['fit_s']} s"
    where = f"{line['dataset']:<20} {line['system']:<10} seed {line['seed']}"
    print(f"  {where}  {status}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------- edges


def peer_line(lines: dict[str, Line], ref: dict[str, Line], peer: str) -> tuple[Line | None, str]:
    """The measured line of a peer, else its reference line; with its origin ('' or 'ref')."""
    if ok(lines.get(peer)):
        return lines[peer], ""
    if peer not in lines and peer in ref:
        return ref[peer], "ref"
    return None, ""


# ---------------------------------------------------------------- rendering


def table_row(line: Line, ours: Line | None, ref: dict[str, Line]) -> str:
    system, task = line["system"], line["task"]
    if line.get("failed"):
        cells = [system, f"FAILED: {line['error']}", "", "", "", ""]
    else:
        cells = [
            system,
            fnum(metric(line)),
            fnum(line.get("fit_s"), 1),
            fnum(line.get("single_row_ms"), 1),
            fnum(line.get("peak_rss_mb")),
            "",
        ]
        if system != OURS and ok(ours):
            cells[5] = fmt_edge(task, edge(task, metric(ours), metric(line)))
    if ref:
        cells.append(fnum(metric(ref[system])) if system in ref else "")
    return "| " + " | ".join(cells) + " |"


def reference_rows(lines: dict[str, Line], ref: dict[str, Line]) -> list[str]:
    """Rows for reference peers that were not measured in this run."""
    ours, rows = lines.get(OURS), []
    for system, line in ref.items():
        if system in lines:
            continue
        task = line["task"]
        edge_text = (
            fmt_edge(task, edge(task, metric(ours), metric(line))) + " ref" if ok(ours) else ""
        )
        cells = [f"{system} (ref)", "", "", "", "", edge_text, fnum(metric(line))]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def render_dataset(dataset: str, lines: dict[str, Line], ref: dict[str, Line]) -> str:
    task = next(iter(lines.values()))["task"]
    head = ["system", METRIC_LABEL[task], "fit s", "1-row ms", "peak MiB", "edge of ours"]
    if ref:
        head.append(f"ref {METRIC_LABEL[task]} (peers60, 60 s)")
    out = [f"### {dataset} ({task})", "", "| " + " | ".join(head) + " |"]
    out.append("|" + "---|" * len(head))
    out += [table_row(line, lines.get(OURS), ref) for line in lines.values()]
    if ref:
        out += reference_rows(lines, ref)
    for line in lines.values():
        if line.get("failed"):
            tail = line.get("stderr_tail", "").strip()
            out += [
                "",
                f"{line['system']} failed ({line['error']}); stderr tail:",
                "```",
                tail,
                "```",
            ]
    return "\n".join(out) + "\n"


def comparisons(peer: str, results: dict, refs: dict) -> list[tuple[str, str, float, float, str]]:
    """(dataset, task, ours' metric, peer's metric, origin) where both have a result."""
    pairs = []
    for dataset, lines in results.items():
        ours = lines.get(OURS)
        other, origin = peer_line(lines, refs.get(dataset, {}), peer)
        if ok(ours) and other is not None:
            pairs.append((dataset, ours["task"], metric(ours), metric(other), origin))
    return pairs


def mean_edges_by_task(pairs: list) -> str:
    by_task: dict[str, list[float]] = {}
    for _, task, ours, peer, _ in pairs:
        by_task.setdefault(task, []).append(edge(task, ours, peer))
    parts = [
        f"{task} {fmt_edge(task, sum(v) / len(v))} (n={len(v)})" for task, v in by_task.items()
    ]
    return ", ".join(parts)


def peer_summary(peer: str, results: dict, refs: dict) -> str:
    """Wins, datasets behind by more than 0.5 %, and mean edges of ours against one peer."""
    pairs = comparisons(peer, results, refs)
    if not pairs:
        return f"- vs {peer}: no dataset with both results"
    rels = [rel_edge(task, ours, other) for _, task, ours, other, _ in pairs]
    wins = sum(edge(task, ours, other) > 0 for _, task, ours, other, _ in pairs)
    behind = [
        f"{p[0]} ({r * 100:+.2f} %)"
        for p, r in zip(pairs, rels, strict=True)
        if r < -BEHIND_THRESHOLD
    ]
    note = " (some figures from peers60 reference)" if any(p[4] for p in pairs) else ""
    return (
        f"- vs {peer}{note}: ours wins {wins}/{len(pairs)}; behind by more than 0.5 %: "
        f"{', '.join(behind) or 'none'}; mean relative edge {sum(rels) / len(rels) * 100:+.2f} %"
        f" (by task: {mean_edges_by_task(pairs)})"
    )


def render_summary(results: dict, refs: dict) -> str:
    peers = {s for lines in results.values() for s in lines if s != OURS}
    peers |= {s for r in refs.values() for s in r}
    ordered = [s for s in SYSTEMS if s in peers]
    out = ["## Summary", ""]
    out += [peer_summary(peer, results, refs) for peer in ordered]
    failed = [
        f"{line['dataset']}/{line['system']}"
        for lines in results.values()
        for line in lines.values()
        if line.get("failed")
    ]
    out.append(f"- failed runs: {', '.join(failed) or 'none'}")
    return "\n".join(out) + "\n"


def render_all(results: dict, refs: dict, header: str) -> str:
    parts = [header] + [render_dataset(d, lines, refs.get(d, {})) for d, lines in results.items()]
    return "\n".join(parts + [render_summary(results, refs)])


# ---------------------------------------------------------------- files


def load_reference(folder: Path) -> dict[str, dict[str, Line]]:
    """peers60.jsonl as {dataset: {system: line}}."""
    refs: dict[str, dict[str, Line]] = {}
    for line in read_jsonl(folder / "peers60.jsonl"):
        refs.setdefault(line["dataset"], {})[line["system"]] = line
    return refs


def read_jsonl(path: Path) -> list[Line]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(text) for text in fh if text.strip()]


def group(lines: list[Line]) -> dict[str, dict[str, Line]]:
    results: dict[str, dict[str, Line]] = {}
    for line in lines:
        results.setdefault(line["dataset"], {})[line["system"]] = line
    return results


def git_commit() -> str:
    proc = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return proc.stdout.strip() or "unknown"


def header(args: argparse.Namespace, stamp: str) -> str:
    if args.seeds == 1:
        seeds = f"seed {args.seed}"
    else:
        seeds = f"seeds {', '.join(map(str, seed_range(args)))}"
    resumed = f", resumed from {args.resume}" if args.resume else ""
    return (
        f"# Accuracy benchmark {stamp}\n\ncommit {git_commit()}, budget {args.budget} s, "
        f"{seeds}, systems {args.systems}{resumed}\n"
    )


def report(lines: list[Line], refs: dict, head: str) -> tuple[str, str]:
    """(whole report, summary): single-seed tables for one seed at one budget, else seeded ones."""
    if is_seeded(lines):
        cells = group_seeded(lines)
        return render_seeded(lines, refs, head), render_seeded_summary(cells, base_budget(lines))
    results = group(lines)
    refs = {d: r for d, r in refs.items() if d in results}
    return render_all(results, refs, head), render_summary(results, refs)


# ---------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Accuracy of ours against FLAML, AutoGluon, LightGBM.")
    p.add_argument("--datasets", help="comma-separated names (default: all in MANIFEST.tsv)")
    p.add_argument("--systems", default=",".join(SYSTEMS), help="comma-separated systems")
    p.add_argument("--budget", type=int, default=60, help="time budget per fit, seconds")
    p.add_argument("--seed", type=int, default=0, help="first seed (split and systems' seed)")
    p.add_argument("--seeds", type=int, default=1, help="number of seeds: --seed, --seed+1, ...")
    p.add_argument(
        "--peers-python", default=os.environ.get("AUTOML_PEERS_PYTHON", DEFAULT_PEERS_PYTHON)
    )
    p.add_argument(
        "--data-dir",
        help="datasets folder (default: $AUTOML_DATASETS or ../shared/datasets beside the repo)",
    )
    p.add_argument("--out-dir", default=str(HERE / "results"), help="where results are written")
    p.add_argument(
        "--from-jsonl", nargs="+", help="re-print the tables of saved lines (files merged)"
    )
    p.add_argument("--reference", action="store_true", help="add the peers60.jsonl figures")
    p.add_argument("--resume", help="append to this JSONL, skipping the cells it already holds")
    p.add_argument(
        "--retry-failed", action="store_true", help="with --resume: run failed cells again"
    )
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error("--seeds must be at least 1")
    args.data_dir = data_dir(args.data_dir)
    return args


def seed_range(args: argparse.Namespace) -> range:
    return range(args.seed, args.seed + args.seeds)


def selected(args: argparse.Namespace) -> tuple[dict[str, dict[str, str]], list[str]]:
    manifest = read_manifest(args.data_dir)
    names = args.datasets.split(",") if args.datasets else list(manifest)
    systems = args.systems.split(",")
    unknown = [n for n in names if n not in manifest] + [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise SystemExit(f"unknown dataset or system: {', '.join(unknown)}")
    peers = sorted(PEER_VENV_SYSTEMS & set(systems))
    if peers and not Path(args.peers_python).exists():
        raise SystemExit(
            f"{', '.join(peers)} need the peers' venv, and {args.peers_python} does not exist: "
            "create it (benchmarks/README.md) or pass --peers-python / AUTOML_PEERS_PYTHON"
        )
    return {n: manifest[n] for n in names}, systems


def cell_key(line: Line) -> tuple:
    """What identifies a run: dataset, system, seed, budget."""
    return (line["dataset"], line["system"], line.get("seed", 0), line.get("budget"))


def previous_cells(args: argparse.Namespace) -> dict[tuple, Line]:
    """The cells of --resume's file to skip (failed ones too, unless --retry-failed)."""
    if not args.resume or not Path(args.resume).exists():
        return {}
    lines = read_jsonl(Path(args.resume))
    return {cell_key(ln): ln for ln in lines if not (args.retry_failed and ln.get("failed"))}


def run_all(args: argparse.Namespace, refs: dict, jsonl: Path, done: dict[tuple, Line]) -> None:
    """Every (seed, dataset, system) not in `done`, appended to jsonl as it finishes.

    Seeds form the outer loop, so a run that stops early still has whole passes over the
    datasets. With one seed, each dataset's table is printed as soon as it is complete."""
    datasets, systems = selected(args)
    for seed in seed_range(args):
        for name, meta in datasets.items():
            print(f"{name} ({meta['task']}) seed {seed}", file=sys.stderr, flush=True)
            lines: dict[str, Line] = {}
            for system in systems:
                line = done.get((name, system, seed, args.budget))
                if line is None:
                    line = run_cell(args, (name, system, seed), meta["task"])
                    progress(line)
                    with open(jsonl, "a", encoding="utf-8") as fh:
                        fh.write(json.dumps(line) + "\n")
                lines[system] = line
            if args.seeds == 1:
                print(render_dataset(name, lines, refs.get(name, {})), flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    refs = load_reference(args.data_dir) if args.reference else {}
    if args.from_jsonl:
        lines = [line for path in args.from_jsonl for line in read_jsonl(Path(path))]
        head = f"# Accuracy benchmark from {', '.join(args.from_jsonl)}\n"
        print(report(lines, refs, head)[0])
        return 0
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    jsonl = Path(args.resume) if args.resume else out_dir / f"accuracy-{stamp}.jsonl"
    run_all(args, refs, jsonl, previous_cells(args))
    whole, summary = report(read_jsonl(jsonl), refs, header(args, stamp))
    jsonl.with_suffix(".md").write_text(whole, encoding="utf-8")
    print(summary)
    print(f"wrote {jsonl} and {jsonl.with_suffix('.md')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
