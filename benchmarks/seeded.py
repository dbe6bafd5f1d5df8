"""Multi-seed tables of accuracy.py: mean and spread per dataset, and calls that respect noise.

Lines come as accuracy.py writes them (one per dataset, system, budget, seed). A system run at a
budget other than ours' gets its own column label, `flaml@300`, so runs at 60 s and 300 s read
side by side. Per dataset and system: the mean and sample standard deviation of the metric over
seeds, the seeds' values, fit and wall times. Against each peer, ours' edge (edges.py) is taken
per seed, on the same split, and the call is:

    ahead   when mean(edges) >  std(edges)   (sample std, n - 1; at least 2 paired seeds)
    behind  when mean(edges) < -std(edges)
    within noise otherwise.

Why this rule: it is the one issue 17 states ("the mean difference exceeds the spread of the
differences"), and the pairing (same split for both systems) removes the split's difficulty from
the spread, leaving what moves between runs. It is |t| > sqrt(n) for the paired t statistic:
with 3 seeds t > 1.73, about 78 % two-sided confidence (t with 2 df). A 95 % paired t-interval
would need |mean| > 2.48 std with 3 seeds and would call almost nothing; we prefer a rule that
separates most of the noise and say so beside every count.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable

from suite import METRIC_LABEL, OURS, SYSTEMS, Line, edge, fmt_edge, fnum, metric, ok, rel_edge

Cells = dict[str, dict[str, dict[int, Line]]]  # dataset -> label -> seed -> line

RULE = (
    "Rule: ours is ahead of (behind) a peer on a dataset when the mean over seeds of the "
    "per-seed edge (ours - peer, same split) exceeds (is below minus) the sample standard "
    "deviation of those edges, with at least 2 paired seeds; otherwise within noise."
)
BUDGET_SLACK = 1.1


# ---------------------------------------------------------------- grouping


def base_budget(lines: Iterable[Line]) -> float | None:
    """The budget ours ran at (the smallest, if several); else the smallest budget."""
    lines = list(lines)
    ours = [ln["budget"] for ln in lines if ln.get("system") == OURS and "budget" in ln]
    every = [ln["budget"] for ln in lines if "budget" in ln]
    chosen = ours or every
    return min(chosen) if chosen else None


def label(line: Line, base: float | None) -> str:
    """`flaml`, or `flaml@300` when the line's budget is not the base budget."""
    budget = line.get("budget")
    return line["system"] if budget == base else f"{line['system']}@{budget:g}"


def group_seeded(lines: list[Line]) -> Cells:
    """{dataset: {label: {seed: line}}}; a later line for the same cell wins (a re-run)."""
    base = base_budget(lines)
    cells: Cells = {}
    for line in lines:
        by_label = cells.setdefault(line["dataset"], {})
        by_label.setdefault(label(line, base), {})[int(line.get("seed", 0))] = line
    return {
        d: dict(sorted(by.items(), key=lambda kv: label_order(kv[1]))) for d, by in cells.items()
    }


def label_order(by_seed: dict[int, Line]) -> tuple:
    line = next(iter(by_seed.values()))
    system = line["system"]
    rank = SYSTEMS.index(system) if system in SYSTEMS else len(SYSTEMS)
    return (line.get("budget") or 0, rank, system)


def is_seeded(lines: list[Line]) -> bool:
    """More than one seed or budget: the single-seed tables cannot show these lines."""
    seeds = {ln.get("seed", 0) for ln in lines}
    budgets = {ln.get("budget") for ln in lines}
    return len(seeds) > 1 or len(budgets) > 1


# ---------------------------------------------------------------- statistics


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample standard deviation (None below 2 values)."""
    spread = statistics.stdev(values) if len(values) > 1 else None
    return statistics.fmean(values), spread


def verdict(edges: list[float]) -> str:
    """'ahead', 'behind' or 'within noise' by the rule above; 'n<2' without two seeds."""
    if len(edges) < 2:
        return "n<2"
    mean, spread = mean_std(edges)
    if abs(mean) <= spread:
        return "within noise"
    return "ahead" if mean > 0 else "behind"


def paired(task: str, ours: dict[int, Line], peer: dict[int, Line], rel: bool = False) -> dict:
    """{seed: edge of ours} for the seeds where both ran without failing."""
    fn = rel_edge if rel else edge
    seeds = sorted(s for s in ours if ok(ours[s]) and ok(peer.get(s)))
    return {s: fn(task, metric(ours[s]), metric(peer[s])) for s in seeds}


def metrics_of(by_seed: dict[int, Line]) -> list[float]:
    return [metric(by_seed[s]) for s in sorted(by_seed) if ok(by_seed[s])]


def fmt_bare(task: str, value: float) -> str:
    """An edge without its unit, for the per-seed column: '+0.0030' or '+1.25%'."""
    value = round(value, 8) + 0.0  # no "-0.0000" for a tiny negative
    return f"{value:+.4f}" if task == "binary" else f"{value * 100:+.2f}%"


def fmt_spread(task: str, spread: float | None) -> str:
    if spread is None:
        return "n/a"
    return f"{spread:.4f}" if task == "binary" else f"{spread * 100:.2f} %"


# ---------------------------------------------------------------- per dataset


def per_seed(by_seed: dict[int, Line], seeds: list[int], value) -> str:
    """One value per seed, ' / '-joined; F for a failed run, - for a missing one."""
    cells = []
    for s in seeds:
        line = by_seed.get(s)
        cells.append("-" if line is None else "F" if line.get("failed") else value(s, line))
    return " / ".join(cells)


def mean_of(by_seed: dict[int, Line], key: str, digits: int = 1) -> str:
    values = [ln[key] for ln in by_seed.values() if ok(ln) and ln.get(key) is not None]
    return fnum(statistics.fmean(values), digits) if values else ""


def edge_cells(task: str, ours: dict[int, Line] | None, peer: dict, seeds: list[int]) -> list:
    """Mean ± std of ours' edge, its per-seed values, and the call."""
    if ours is None:
        return ["", "", ""]
    edges = paired(task, ours, peer)
    if not edges:
        return ["", "", "no paired seed"]
    mean, spread = mean_std(list(edges.values()))
    text = [fmt_bare(task, edges[s]) if s in edges else "-" for s in seeds]
    summary = f"{fmt_edge(task, mean)} ± {fmt_spread(task, spread)} (n={len(edges)})"
    return [summary, " / ".join(text), verdict(list(edges.values()))]


def system_row(name: str, by_label: dict, seeds: list[int], task: str, ref: dict) -> str:
    by_seed = by_label[name]
    values = metrics_of(by_seed)
    if values:
        mean, spread = mean_std(values)
        stats = f"{mean:.4f} ± {fnum(spread)}" if spread is not None else f"{mean:.4f}"
    else:
        stats = "all failed"
    cells = [name, stats, per_seed(by_seed, seeds, lambda _s, ln: f"{metric(ln):.4f}")]
    cells += [mean_of(by_seed, "fit_s"), mean_of(by_seed, "wall_s")]
    ours = by_label.get(OURS) if name != OURS else None
    cells += edge_cells(task, ours, by_seed, seeds)
    if ref:
        cells.append(fnum(metric(ref[name])) if name in ref else "")
    return "| " + " | ".join(cells) + " |"


def failures(by_label: dict) -> list[str]:
    out = []
    for name, by_seed in by_label.items():
        for seed, line in sorted(by_seed.items()):
            if line.get("failed"):
                tail = line.get("stderr_tail", "").strip()
                out += ["", f"{name} seed {seed} failed ({line['error']}); stderr tail:"]
                out += ["```", tail, "```"]
    return out


def render_seeded_dataset(dataset: str, by_label: dict, ref: dict) -> str:
    """The markdown table of one dataset over seeds (and budgets)."""
    task = next(iter(next(iter(by_label.values())).values()))["task"]
    seeds = sorted({s for by_seed in by_label.values() for s in by_seed})
    unit = METRIC_LABEL[task]
    head = ["system", f"{unit} mean ± std", "per seed", "fit s mean", "wall s mean"]
    head += ["edge of ours mean ± std", "edge per seed", "call"]
    if ref:
        head.append(f"ref {unit} (peers60, seed 0, 60 s)")
    out = [f"### {dataset} ({task}), seeds {', '.join(map(str, seeds))}", ""]
    out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += [system_row(name, by_label, seeds, task, ref) for name in by_label]
    return "\n".join(out + failures(by_label)) + "\n"


# ---------------------------------------------------------------- summary


def peer_calls(peer: str, cells: Cells) -> dict[str, list]:
    """{call: [(dataset, task, edges, relative edges)]} of ours against one peer label."""
    calls: dict[str, list] = {}
    for dataset, by_label in cells.items():
        if OURS not in by_label or peer not in by_label:
            continue
        ours, other = by_label[OURS], by_label[peer]
        task = next(iter(ours.values()))["task"]
        edges = list(paired(task, ours, other).values())
        if edges:
            rels = list(paired(task, ours, other, rel=True).values())
            calls.setdefault(verdict(edges), []).append((dataset, task, edges, rels))
    return calls


def describe(entries: list) -> str:
    parts = []
    for dataset, task, edges, _ in entries:
        mean, spread = mean_std(edges)
        parts.append(f"{dataset} {fmt_edge(task, mean)} ± {fmt_spread(task, spread)}")
    return ", ".join(parts)


def peer_summary_seeded(peer: str, cells: Cells) -> str:
    """Ahead / behind / within noise counts of ours against one peer label, with the means."""
    calls = peer_calls(peer, cells)
    entries = [e for group in calls.values() for e in group]
    if not entries:
        return f"- vs {peer}: no dataset with both results"
    total = len(entries)
    rel_means = [statistics.fmean(rels) for *_, rels in entries]
    parts = [f"ahead on {len(calls.get('ahead', []))}/{total}"]
    if "behind" not in calls:
        parts.append("behind on none")
    for call in ("behind", "within noise", "n<2"):
        if calls.get(call):
            parts.append(f"{call} on {len(calls[call])}/{total} ({describe(calls[call])})")
    mean_rel = statistics.fmean(rel_means) * 100
    return f"- vs {peer}: {'; '.join(parts)}; mean relative edge {mean_rel:+.2f} %"


def larger_peer(by_seed: dict[int, Line], base: float | None) -> bool:
    line = next(iter(by_seed.values()))
    return line["system"] != OURS and base is not None and line.get("budget", base) > base


def moonshot(cells: Cells, base: float | None) -> str | None:
    """Ours' mean score against the better peer's mean at a larger budget, per dataset."""
    hits, rows = [], []
    for dataset, by_label in cells.items():
        higher = [
            (statistics.fmean(v), name)
            for name, by_seed in by_label.items()
            if larger_peer(by_seed, base)
            and (v := [ln["primary"] for ln in by_seed.values() if ok(ln)])
        ]
        ours = [ln["primary"] for ln in by_label.get(OURS, {}).values() if ok(ln)]
        if not higher or not ours or base is None:
            continue
        best, name = max(higher)
        rows.append(dataset)
        if statistics.fmean(ours) >= best:
            hits.append(f"{dataset} (vs {name})")
    if not rows:
        return None
    return (
        f"- moonshot: ours at {base:g} s >= the better peer at a larger budget (mean primary) on "
        f"{len(hits)}/{len(rows)}: {', '.join(hits) or 'none'}"
    )


def budget_line(cells: Cells, base: float | None) -> str | None:
    """Ours' fit times against the budget (fit call only; wall_s adds start-up and scoring)."""
    fits = [
        (d, s, ln["fit_s"])
        for d, by_label in cells.items()
        for s, ln in by_label.get(OURS, {}).items()
        if ok(ln) and ln.get("fit_s") is not None
    ]
    if not fits or base is None:
        return None
    over = [f"{d}/seed {s} ({f:.1f} s)" for d, s, f in fits if f > BUDGET_SLACK * base]
    times = [f for *_, f in fits]
    return (
        f"- ours' fit s at {base:g} s: {min(times):.1f}-{max(times):.1f} over {len(fits)} runs; "
        f"over {BUDGET_SLACK:g}x budget: {', '.join(over) or 'none'}"
    )


def render_seeded_summary(cells: Cells, base: float | None) -> str:
    """Counts against every peer label, the moonshot, ours' times and the failed runs."""
    peers = list(dict.fromkeys(n for by in cells.values() for n in by if n != OURS))
    seeds = sorted({s for by in cells.values() for b in by.values() for s in b})
    out = ["## Summary", "", f"Seeds {', '.join(map(str, seeds))}. {RULE}", ""]
    out += [peer_summary_seeded(peer, cells) for peer in peers]
    out += [x for x in (moonshot(cells, base), budget_line(cells, base)) if x]
    failed = [
        f"{d}/{name}/seed {s}"
        for d, by_label in cells.items()
        for name, by_seed in by_label.items()
        for s, ln in sorted(by_seed.items())
        if ln.get("failed")
    ]
    out.append(f"- failed runs: {', '.join(failed) or 'none'}")
    return "\n".join(out) + "\n"


def render_seeded(lines: list[Line], refs: dict, header: str) -> str:
    """The whole multi-seed report: header, one table per dataset, summary."""
    cells = group_seeded(lines)
    parts = [header]
    parts += [render_seeded_dataset(d, by, refs.get(d, {})) for d, by in cells.items()]
    return "\n".join(parts + [render_seeded_summary(cells, base_budget(lines))])
