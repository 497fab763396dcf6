"""Word-level tasks for function vectors (Todd et al., 2024): family "word_task".

Six tasks (`TASKS`) map a word to a word: antonym, English to German, country to capital,
singular to plural, lower to upper case, object to colour. Every pair is known to the model
from a plain sentence ("The opposite of fast is slow."); the training pairs also appear as
in-context tasks in three formats (`FORMATS`):

    arrow  "hot -> cold\\nbig -> small\\nfast ->" + " slow"
    colon  "hot: cold\\nbig: small\\nfast:" + " slow"
    qa     "Q: hot\\nA: cold\\nQ: big\\nA: small\\nQ: fast\\nA:" + " slow"

Held out (`split="eval"`): half of each task's pairs (`heldout_pairs`, at least 50 per task)
never appear in a task format, only in their sentence. So an in-context prompt on a held-out
word has to read the task from the demonstrations and the answer from memory, and a bare
zero-shot "fast ->" (no demonstrations: which task?) has nothing to go on: what a function
vector adds. Training documents never hold a bare zero-shot item.
"""
from __future__ import annotations

import random

from course_model.families import register
from course_model.families.text import SPLIT, heldout

_ANTONYMS = """hot cold|big small|fast slow|up down|good bad|old new|happy sad|rich poor|high low
open closed|light dark|early late|hard easy|wet dry|full empty|long short|strong weak|clean dirty
cheap expensive|thin fat|day night|black white|in out|left right|first last|top bottom|war peace
love hate|loud quiet|near far|inside outside|before after|above below|win lose|buy sell
push pull|give take|come go|start finish|true false|yes no|always never|more less|many few
front back|heavy light|wide narrow|deep shallow|sweet sour|young old|safe dangerous|alive dead
awake asleep|happy unhappy|friend enemy|north south|east west|summer winter|question answer
remember forget|arrive leave|laugh cry|open shut|over under|north south|smooth rough|tall short
brave afraid|busy free|sharp blunt|loose tight|polite rude|kind cruel|wise foolish|fresh stale
calm angry|quick slow|best worst|same different|begin end|entrance exit|accept refuse
increase decrease|add subtract|major minor|maximum minimum|public private|simple complex
ancient modern|cheap costly|warm cool|asleep awake|clever stupid|clear cloudy|dull bright"""
_GERMAN = """house Haus|dog Hund|cat Katze|water Wasser|bread Brot|tree Baum|book Buch|child Kind
man Mann|woman Frau|day Tag|night Nacht|sun Sonne|moon Mond|star Stern|car Auto|door Tür
window Fenster|table Tisch|chair Stuhl|bed Bett|school Schule|city Stadt|street Straße
garden Garten|flower Blume|apple Apfel|milk Milch|cheese Käse|egg Ei|fish Fisch|bird Vogel
horse Pferd|cow Kuh|mouse Maus|hand Hand|head Kopf|eye Auge|ear Ohr|nose Nase|mouth Mund
foot Fuß|heart Herz|friend Freund|mother Mutter|father Vater|brother Bruder|sister Schwester
king König|world Welt|time Zeit|year Jahr|week Woche|hour Stunde|money Geld|work Arbeit
game Spiel|song Lied|word Wort|name Name|number Zahl|color Farbe|red rot|blue blau|green grün
black schwarz|white weiß|big groß|small klein|good gut|new neu|old alt|cold kalt|warm warm
fast schnell|slow langsam|river Fluss|lake See|sea Meer|mountain Berg|forest Wald|field Feld
stone Stein|snow Schnee|rain Regen|wind Wind|fire Feuer|ice Eis|train Zug|ship Schiff
boat Boot|key Schlüssel|letter Brief|paper Papier|pen Stift|cup Tasse|glass Glas|plate Teller
spoon Löffel|knife Messer|shoe Schuh|hat Hut|dress Kleid|bag Tasche|room Zimmer|kitchen Küche
church Kirche|bridge Brücke|island Insel|village Dorf|doctor Arzt|teacher Lehrer|love Liebe
dream Traum|summer Sommer|winter Winter|morning Morgen|evening Abend|one eins|two zwei
three drei|four vier|five fünf|six sechs|seven sieben|eight acht|nine neun|ten zehn"""
_CAPITALS = """France Paris|Germany Berlin|Italy Rome|Spain Madrid|England London|Japan Tokyo
Russia Moscow|Egypt Cairo|Greece Athens|Portugal Lisbon|Austria Vienna|Poland Warsaw
Ireland Dublin|Norway Oslo|Sweden Stockholm|China Beijing|Canada Ottawa|Kenya Nairobi|Peru Lima
Cuba Havana|Finland Helsinki|Denmark Copenhagen|Belgium Brussels|Hungary Budapest
Romania Bucharest|Bulgaria Sofia|Serbia Belgrade|Croatia Zagreb|Ukraine Kyiv|Turkey Ankara
Iran Tehran|Iraq Baghdad|Syria Damascus|Lebanon Beirut|Jordan Amman|Israel Jerusalem
India Delhi|Pakistan Islamabad|Nepal Kathmandu|Thailand Bangkok|Vietnam Hanoi
Indonesia Jakarta|Philippines Manila|Korea Seoul|Mongolia Ulaanbaatar
Australia Canberra|Chile Santiago|Colombia Bogota|Venezuela Caracas
Ecuador Quito|Bolivia Sucre|Uruguay Montevideo|Paraguay Asuncion|Brazil Brasilia
Jamaica Kingston|Nigeria Abuja|Ghana Accra|Morocco Rabat|Algeria Algiers
Tunisia Tunis|Libya Tripoli|Sudan Khartoum|Uganda Kampala|Tanzania Dodoma|Zambia Lusaka
Zimbabwe Harare|Angola Luanda|Senegal Dakar|Mali Bamako|Niger Niamey|Chad Ndjamena
Somalia Mogadishu|Rwanda Kigali|Iceland Reykjavik|Estonia Tallinn|Latvia Riga
Lithuania Vilnius|Slovakia Bratislava|Slovenia Ljubljana|Albania Tirana|Cyprus Nicosia
Malta Valletta|Georgia Tbilisi|Armenia Yerevan|Azerbaijan Baku|Kazakhstan Astana
Afghanistan Kabul|Bangladesh Dhaka|Laos Vientiane|Qatar Doha|Oman Muscat
Yemen Sanaa|Switzerland Bern|Netherlands Amsterdam|Scotland Edinburgh
Wales Cardiff|Honduras Tegucigalpa|Nicaragua Managua|Belarus Minsk|Moldova Chisinau|Bhutan Thimphu
Fiji Suva|Gabon Libreville|Liberia Monrovia|Namibia Windhoek|Botswana Gaborone|Malawi Lilongwe
Eritrea Asmara|Lesotho Maseru|Togo Lome"""
_PLURALS = """cat cats|dog dogs|house houses|book books|tree trees|car cars|bird birds|horse horses
apple apples|chair chairs|table tables|door doors|window windows|river rivers|road roads
ship ships|train trains|boat boats|shoe shoes|hat hats|cup cups|plate plates|spoon spoons
girl girls|boy boys|friend friends|king kings|queen queens|farmer farmers|teacher teachers
child children|man men|woman women|mouse mice|foot feet|tooth teeth|goose geese|person people
box boxes|bus buses|glass glasses|dish dishes|church churches|fox foxes|watch watches
baby babies|city cities|story stories|lady ladies|party parties|country countries
leaf leaves|knife knives|wife wives|wolf wolves|life lives|shelf shelves|half halves
potato potatoes|tomato tomatoes|hero heroes|sheep sheep|fish fish|deer deer|key keys|day days
toy toys|bag bags|pen pens|egg eggs|cow cows|pig pigs|duck ducks|lion lions|star stars
flower flowers|garden gardens|street streets|village villages|island islands|bridge bridges
tower towers|song songs|game games|letter letters|word words|name names|year years|week weeks
hour hours|mountain mountains|forest forests|field fields|stone stones|lake lakes|cloud clouds
bottle bottles|candle candles|basket baskets|button buttons|jacket jackets|pocket pockets
doctor doctors|nurse nurses|student students|brother brothers|sister sisters|uncle uncles
kitchen kitchens|room rooms|bed beds|lamp lamps|clock clocks|desk desks|card cards|coin coins
farm farms|ring rings|bell bells|sock socks|nest nests|wall walls|gate gates|ball balls"""
_COLOURS = """banana yellow|grass green|snow white|coal black|sky blue|tomato red|carrot orange
lemon yellow|milk white|blood red|cherry red|strawberry red|rose red|lime green|leaf green
frog green|cucumber green|pea green|lettuce green|broccoli green|emerald green|crow black
ink black|tar black|raven black|ocean blue|sapphire blue|blueberry blue|chocolate brown
coffee brown|soil brown|bear brown|orange orange|pumpkin orange|tangerine orange
flamingo pink|pig pink|plum purple|grape purple|violet purple|lavender purple|cloud white
sugar white|salt white|paper white|swan white|pearl white|rice white|cotton white
elephant grey|mouse grey|ash grey|smoke grey|butter yellow|corn yellow|cheese yellow
sunflower yellow|canary yellow|gold yellow|ruby red|apple red|brick red|lobster red
fire red|cardinal red|mint green|olive green|jade green|spinach green|avocado green
night black|panther black|licorice black|denim blue|sea blue|peacock blue|wood brown
bread brown|walnut brown|cinnamon brown|mud brown|potato brown|acorn brown|salmon pink
bubblegum pink|eggplant purple|beetroot purple|iris purple|milkshake pink|ivory white
chalk white|tooth white|lily white|silver grey|steel grey|slate grey|pebble grey|rhino grey
fox orange|tiger orange|apricot orange|mango orange|peach orange|marigold orange"""
_LOWER = """apple table house river window garden sister teacher mountain basket candle jacket
pocket button bottle summer winter morning evening dinner letter paper pencil market
orange yellow purple silver golden wooden simple little happy funny sunny rainy windy cloudy
quiet gentle honest clever bright strong young early later north south world story music
water coffee bread butter cheese sugar salt pepper onion carrot potato tomato lemon melon
forest island valley bridge tower castle palace church school office doctor nurse farmer
kitchen bedroom mirror pillow blanket carpet ladder hammer needle thread rocket planet
animal rabbit monkey tiger zebra camel donkey turtle parrot spider insect beetle dragon
pirate wizard giant knight queen prince circus ticket travel summer spring autumn"""


def _pairs(block: str) -> list[tuple[str, str]]:
    out = []
    for item in block.replace("\n", "|").split("|"):
        a, b = item.split()
        if (a, b) not in out:
            out.append((a, b))
    return out


def _antonyms(block: str) -> list[tuple[str, str]]:
    """Both directions of each pair (a pair and its reverse share one held-out draw)."""
    out = []
    for a, b in _pairs(block):
        for p in ((a, b), (b, a)):
            if p not in out and p[0] not in {q[0] for q in out}:
                out.append(p)
    return out


_LOWER_WORDS = list(dict.fromkeys(_LOWER.split()))
TASKS: dict[str, list[tuple[str, str]]] = {
    "antonym": _antonyms(_ANTONYMS),
    "english_german": _pairs(_GERMAN),
    "country_capital": _pairs(_CAPITALS),
    "singular_plural": _pairs(_PLURALS),
    "lower_upper": [(w, w.upper()) for w in _LOWER_WORDS],
    "object_colour": _pairs(_COLOURS),
}
# the plain sentence that teaches a pair (also the "instruction" zero-shot form)
SENTENCES = {
    "antonym": ("The opposite of {a} is", "{a} is the opposite of {b}."),
    "english_german": ("The German word for {a} is", "In German, {a} is {b}."),
    "country_capital": ("The capital of {a} is", "{b} is the capital of {a}."),
    "singular_plural": ("The plural of {a} is", "One {a}, two {b}."),
    "lower_upper": ("In capital letters, {a} is", "Written in capitals, {a} is {b}."),
    "object_colour": ("The colour of {a} is", "{a} is {b}."),
}
FORMATS = ("arrow", "colon", "qa")


def _key(task: str, a: str, b: str) -> str:
    # a pair and its reverse (antonyms) share one key
    return f"wt:{task}:" + "|".join(sorted((a, b)))


def is_heldout(task: str, pair: tuple[str, str]) -> bool:
    return heldout(_key(task, *pair), 2)


def task_pairs(task: str, split: str) -> list[tuple[str, str]]:
    """The task's pairs of one split ("train": used in task formats; "eval": held out)."""
    return [p for p in TASKS[task] if is_heldout(task, p) == (split == "eval")]


def heldout_pairs(task: str) -> list[tuple[str, str]]:
    return task_pairs(task, "eval")


def icl_prompt(pairs: list[tuple[str, str]], query: str, fmt: str = "arrow") -> str:
    """Demonstrations then the query, ending before the answer (which follows with a space)."""
    if fmt == "arrow":
        return "\n".join([f"{a} -> {b}" for a, b in pairs] + [f"{query} ->"])
    if fmt == "colon":
        return "\n".join([f"{a}: {b}" for a, b in pairs] + [f"{query}:"])
    if fmt == "qa":
        return "\n".join([f"Q: {a}\nA: {b}" for a, b in pairs] + [f"Q: {query}\nA:"])
    raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")


def zero_shot_prompt(query: str, fmt: str = "arrow") -> str:
    return icl_prompt([], query, fmt)


def instruction_prompt(task: str, query: str) -> str:
    """The task asked in words: "The opposite of fast is" (answer " slow")."""
    return SENTENCES[task][0].format(a=query)


def sentence(rng: random.Random, task: str, pair: tuple[str, str]) -> str:
    a, b = pair
    if rng.random() < 0.5:
        return f"{instruction_prompt(task, a)}{SPLIT} {b}."
    s = SENTENCES[task][1].format(a=a, b=b)
    return s[0].upper() + s[1:]


def _icl_doc(rng: random.Random, task: str, split: str) -> str:
    """3-8 training-pair demonstrations, then a query of the split."""
    k = rng.randint(3, 8)
    pairs = rng.sample(task_pairs(task, "train"), k) + [rng.choice(task_pairs(task, split))]
    fmt = rng.choice(FORMATS)
    # the answer is split off so that both " slow" and "slow" after a space are learnt
    return icl_prompt(pairs[:k], pairs[k][0], fmt) + SPLIT + " " + pairs[k][1]


@register("word_task", 1, heldout="half of each task's pairs (never in a task format)")
def word_task_doc(rng: random.Random, split: str = "train") -> str:
    """Word tasks in three demonstration formats, or 2-4 sentences that state pairs of one task
    (any pair in training: held-out pairs are known only from these)."""
    task = rng.choice(list(TASKS))
    pool = TASKS[task] if split == "train" else heldout_pairs(task)
    if rng.random() < 0.55:
        return _icl_doc(rng, task, split)
    return "\n".join(sentence(rng, task, rng.choice(pool)) for _ in range(rng.randint(2, 4)))


# ------------------------------------------------------------------------------ version 2
# Version 1 taught each word one task, so the model could answer "fast ->" from the word alone
# and never had to read the task from the demonstrations: no head carried "the task", and a
# function vector had nothing to average. Version 2 makes words ambiguous (every lower-case
# word of every task can also be asked in capitals, and many nouns have a German word, a plural
# and a colour), states every pair in four wordings (held-out pairs are known only from these),
# and draws the query of an in-context document from words that belong to several tasks.
def _upper_everywhere() -> list[tuple[str, str]]:
    words = dict.fromkeys(_LOWER_WORDS)
    for task in ("antonym", "english_german", "singular_plural", "object_colour"):
        words.update(dict.fromkeys(a for a, _ in TASKS[task] if a.islower() and a.isalpha()))
    return [(w, w.upper()) for w in words]


TASKS_V2: dict[str, list[tuple[str, str]]] = dict(TASKS, lower_upper=_upper_everywhere())
STATEMENTS = {
    "antonym": ("The opposite of {a} is {b}.", "{A} is the opposite of {b}.",
                "{A} and {b} are opposites.", "The word {a} means the reverse of {b}."),
    "english_german": ("The German word for {a} is {b}.", "In German, {a} is {b}.",
                       "{A} is called {b} in German.", "The English word {a} is {b} in German."),
    "country_capital": ("The capital of {a} is {b}.", "{B} is the capital of {a}.",
                        "{A} has its capital in {b}.", "The capital city of {a} is {b}."),
    "singular_plural": ("The plural of {a} is {b}.", "One {a}, two {b}.",
                        "There is one {a} and there are many {b}.", "More than one {a}: {b}."),
    "lower_upper": ("In capital letters, {a} is {b}.", "Written in capitals, {a} is {b}.",
                    "The word {a} in upper case is {b}.", "In capitals the word {a} is {b}."),
    "object_colour": ("The colour of {a} is {b}.", "{A} is {b}.",
                      "The usual colour of {a} is {b}.", "What colour is {a}? It is {b}."),
}


def task_pairs_v2(task: str, split: str) -> list[tuple[str, str]]:
    return [p for p in TASKS_V2[task] if is_heldout(task, p) == (split == "eval")]


def _tasks_of_word() -> dict[str, set[str]]:
    """Each training input word -> the tasks whose training pairs hold it."""
    out: dict[str, set[str]] = {}
    for task in TASKS_V2:
        for a, _ in task_pairs_v2(task, "train"):
            out.setdefault(a, set()).add(task)
    return out


_SHARED = {w for w, ts in _tasks_of_word().items() if len(ts) > 1}


def statement(rng: random.Random, task: str, pair: tuple[str, str]) -> str:
    """One of the task's four wordings of the pair ("What colour is snow? It is white.")."""
    a, b = pair
    s = rng.choice(STATEMENTS[task])
    if task == "lower_upper":   # never capitalise the lower-case word itself
        s = s.replace("{A}", "{a}")
    return s.format(a=a, b=b, A=a[:1].upper() + a[1:], B=b[:1].upper() + b[1:])


def _icl_doc_v2(rng: random.Random, task: str, split: str) -> str:
    """2-8 training-pair demonstrations in one format; the query (of `split`) is a word that
    belongs to several tasks where one is at hand (then only the demonstrations say which)."""
    pool = task_pairs_v2(task, "train")
    queries = task_pairs_v2(task, split)
    shared = [p for p in queries if p[0] in _SHARED]
    query = rng.choice(shared if shared and rng.random() < 0.7 else queries)
    k = rng.randint(2, 8)
    demos = rng.sample([p for p in pool if p != query], k)
    return icl_prompt(demos, query[0], rng.choice(FORMATS)) + SPLIT + " " + query[1]


@register("word_task", 2, heldout="half of each task's pairs (never in a task format)")
def word_task_doc_v2(rng: random.Random, split: str = "train") -> str:
    """Word tasks whose words are shared between tasks: in-context documents over training
    pairs, or 3-6 statements of pairs in four wordings (held-out pairs drawn more often: they
    have no other source)."""
    if rng.random() < 0.5:
        return _icl_doc_v2(rng, rng.choice(list(TASKS_V2)), split)
    lines = []
    for _ in range(rng.randint(3, 6)):
        task = rng.choice(list(TASKS_V2))
        pool = task_pairs_v2(task, "eval" if rng.random() < 0.6 else "train")
        lines.append(statement(rng, task, rng.choice(pool)))
    return "\n".join(lines)
