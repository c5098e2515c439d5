"""Collects the evaluation tables of `training/run.sh ablate` runs into one comparison table.

python -m talkingface_kit.ablations [NAME ...]   (default: every a2l/runs/eval_abl_*.md)
python -m talkingface_kit.ablations --real [NAME ...]   (the real-face table of every realeval_abl_*.md)
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
    if sys.argv[1:2] == ["--real"]:
        return main_real(sys.argv[2:])
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




def parse_real(path):
    """{set name: (r, best lag, articulation, LMD, jitter)} of the model row of a realeval table."""
    out, cur = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("### "):
            cur = "s1" if "s1," in line else "others"
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cur and len(cells) == 6 and "lookahead" in cells[0] and cur not in out:
            out[cur] = tuple(cells[1:])
    return out


def main_real(names):
    """The issue-9 comparison: every a2l/runs/realeval_abl_*.md (or NAMEs) on both real-face sets."""
    names = names or sorted(p.name[len("realeval_abl_"):-3] for p in RUNS.glob("realeval_abl_*.md"))
    print("| run | s1 r | s1 lag | s1 articulation | s1 LMD | s1 jitter | others r | others lag | "
          "others articulation | others LMD | others jitter |")
    print("|---" * 11 + "|")
    for n in names:
        d = parse_real(RUNS / f"realeval_abl_{n}.md")
        cells = [*d.get("s1", ("?",) * 5), *d.get("others", ("?",) * 5)]
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
