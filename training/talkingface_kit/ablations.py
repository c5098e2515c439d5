"""Collects the evaluation tables of `training/run.sh ablate` runs into one comparison table.

python -m talkingface_kit.ablations [NAME ...]   (default: every a2l/runs/eval_abl_*.md)
Per run: GRID mean r at lag 0, mouth LMD (and with the leave-one-out geometry), per-clip r, and the
clean held-out r of each held-out speech set (against the teacher).
"""
import pathlib
import re
import sys

RUNS = pathlib.Path(__file__).resolve().parents[1] / "a2l" / "runs"


def parse(path):
    grid, held = {}, {}
    for line in path.read_text().splitlines():
        cells = [c.strip().strip("*") for c in line.strip().strip("|").split("|")]
        if len(cells) >= 8 and re.fullmatch(r"[a-z0-9]{6}|mean", cells[0]):
            grid[cells[0]] = (cells[1], cells[5], cells[6])
        elif len(cells) == 6 and cells[1] == "clean":
            held[re.sub(r" \(.*", "", cells[0])] = cells[3]
    return grid, held


def main():
    names = sys.argv[1:] or sorted(p.name[len("eval_abl_"):-3] for p in RUNS.glob("eval_abl_*.md"))
    rows = [(n, *parse(RUNS / f"eval_abl_{n}.md")) for n in names]
    sets = sorted({s for _, _, h in rows for s in h})
    clips = sorted({c for _, g, _ in rows for c in g if c != "mean"})
    print("| run | GRID r | GRID LMD | LMD, LOO geometry | r per clip (" + ", ".join(clips) + ") | "
          + " | ".join(f"held-out r: {s}" for s in sets) + " |")
    print("|---" * (5 + len(sets)) + "|")
    for n, g, h in rows:
        m = g.get("mean", ("?", "?", "?"))
        per = " / ".join(g[c][0] if c in g else "?" for c in clips)
        print(f"| {n} | {m[0]} | {m[1]} | {m[2]} | {per} | " + " | ".join(h.get(s, "-") for s in sets) + " |")


if __name__ == "__main__":
    main()
