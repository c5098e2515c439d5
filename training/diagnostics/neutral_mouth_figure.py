"""Side-by-side figure of the neutral-mouth test (issue 10): open portrait / silence keep / silence
neutral / speech neutral, the lower face of each, from the PNGs that

    L2F_TEST_OUT=DIR cargo test --release --test landmarks2face portrait_expression_neutral

writes (open.png, keep.png, neutral.png, speech.png; the portrait is Debian's public-domain
grace_hopper.jpg). --before DIR adds a second row from another run (e.g. the previous generator).

    .venv/bin/python diagnostics/neutral_mouth_figure.py DIR [--before DIR0] [--out docs/images/neutral_mouth.png]

With --smile, the smile test's pictures instead (portrait / smiling portrait / silence keep /
silence neutral / speech neutral; `cargo test ... portrait_expression_neutral_lowers_a_smile`
writes them as smile_*.png), to docs/images/neutral_smile.png.
"""
import argparse
import pathlib

from PIL import Image, ImageDraw

NAMES = [("open", "open portrait"), ("keep", "silence, keep"), ("neutral", "silence, neutral"),
         ("speech", "speech, neutral")]
# --smile: the smile test's pictures (portrait_expression_neutral_lowers_a_smile, smile_*.png).
SMILE_NAMES = [("smile_portrait", "portrait"), ("smile_smiling", "smiling portrait"),
               ("smile_keep", "silence, keep"), ("smile_neutral", "silence, neutral"),
               ("smile_speech", "speech, neutral")]
BOX = (184, 226, 344, 346)  # the lower face in the 512x600 picture (x0, y0, x1, y1)
SCALE = 1.5


def row(d, label, names=NAMES, scale=SCALE):
    ims = [Image.open(pathlib.Path(d) / f"{n}.png").convert("RGB").crop(BOX) for n, _ in names]
    w, h = ims[0].size
    w, h = int(w * scale), int(h * scale)
    top = 16 if label is None else 32
    out = Image.new("RGB", (len(names) * w + (len(names) - 1) * 4, h + top), "white")
    dr = ImageDraw.Draw(out)
    if label:
        dr.text((4, 2), label, fill="black")
    for k, (im, (_, title)) in enumerate(zip(ims, names)):
        out.paste(im.resize((w, h), Image.LANCZOS), (k * (w + 4), top))
        dr.text((k * (w + 4) + 4, top - 14), title, fill="black")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--before")
    ap.add_argument("--label", default="now")
    ap.add_argument("--before-label", default="before")
    ap.add_argument("--smile", action="store_true",
                    help="the smile test's pictures (smile_*.png), to docs/images/neutral_smile.png")
    ap.add_argument("--out")
    a = ap.parse_args()
    images = pathlib.Path(__file__).resolve().parents[2] / "docs" / "images"
    if a.out is None:
        a.out = str(images / ("neutral_smile.png" if a.smile else "neutral_mouth.png"))
    names, scale = (SMILE_NAMES, 1.0) if a.smile else (NAMES, SCALE)
    rows = (([row(a.before, a.before_label, names, scale)] if a.before else [])
            + [row(a.dir, a.label if a.before else None, names, scale)])
    out = Image.new("RGB", (rows[0].width, sum(r.height for r in rows)), "white")
    y = 0
    for r in rows:
        out.paste(r, (0, y))
        y += r.height
    out.save(a.out, optimize=True)
    print(f"wrote {a.out}: {pathlib.Path(a.out).stat().st_size} bytes")


if __name__ == "__main__":
    main()
