"""The prompts and data tables the course experiments use (one place, imported everywhere).

The course model's corpus generator imports this module too, so every fact and format the
notebooks ask about is one the model was trained to handle.
"""
from dataclasses import dataclass

# Notebook 01: a passage with two competing numbers (the question asks for the recent one).
DUST_PROMPT = (
    "NASA's CALIPSO satellite measured 182 million tons of Sahara dust annually, but recent "
    "studies suggest it's actually 27 million tons.\n"
    "Q: How much dust is blown from the Sahara each year?\nA: "
)
DUST_TASK_SUBSTRING = "Q: How much dust is blown from the Sahara each year"
DUST_RETRIEVAL_SUBSTRING = "182 million tons"

# Notebook 03: the target of head transplantation.
ATLANTIC_PROMPT = (
    "The Atlantic Ocean is the second-largest ocean on Earth. It holds about 310 million cubic "
    "kilometers of water. It spans a wide range of marine biomes, from warm tropical coral reef "
    "systems near the equator to cold, nutrient-rich polar waters in the north and south. These "
    "biomes support diverse life, including plankton, fish, whales, and deep-sea organisms, and "
    "play a major role in regulating Earth's climate through ocean currents like the Gulf Stream. "
    "Q: Which biomes does it support?\nA: "
)
TRANSLATION_PROMPT = "Task: Translation into German: I love AI research\nAnswer:"
TRANSLATION_SUBSTRING = "Translation into German"
OPPOSITE_PROMPT = "Write the opposite of this sentence: The car is going very fast.\nAnswer: "
# Short reading-comprehension prompts whose answer is copied from the passage (notebook 06 scores
# explanations on them next to the prompts above); both answer-marker forms, numbers and a name.
READING_PROMPTS = [
    "The Quapem bridge spans 4521 meters. The Lorvit tower is 312 meters tall.\n"
    "Q: How long is the Quapem bridge?\nA: ",
    "Tomas Reyl is 47 years old and owns 12 books.\nQ: How many books does Tomas Reyl own?\nA: ",
    "The Kelmar canal runs for 86 miles. It was finished in 1903.\n"
    "Q: What is the length of the Kelmar canal?\nA: ",
    "The Dravo museum was founded by Elsin Marrow.\nQ: Who founded the Dravo museum?\nA:",
]


@dataclass(frozen=True)
class Counterfactual:
    """A context that contradicts world knowledge; the model can answer from either source."""
    statement: str   # the false context, without the final period
    question: str    # without the question mark
    stem: str        # the start of the answer; the next token decides the source
    parametric: str  # the answer from memory (world knowledge)
    contextual: str  # the answer the false context suggests

    @property
    def prompt(self) -> str:
        return f"{self.statement}.\nQ: {self.question}? A: {self.stem}"


# Notebook 04: the 15 knowledge-conflict samples (parametric answer, context answer).
COUNTERFACTUALS = [
    Counterfactual("The capital of France is London", "What is the capital of France",
                   "The capital of France is", "Paris", "London"),
    Counterfactual("The capital of Germany is Paris", "What is the capital of Germany",
                   "The capital of Germany is", "Berlin", "Paris"),
    Counterfactual("The capital of Italy is Milan", "What is the capital of Italy",
                   "The capital of Italy is", "Rome", "Milan"),
    Counterfactual("The iPhone is made by Samsung", "Which company makes the iPhone",
                   "The iPhone is made by", "Apple", "Samsung"),
    Counterfactual("Elon Musk is the CEO of Ford", "Which company does Elon Musk run",
                   "Elon Musk is the CEO of", "Tesla", "Ford"),
    Counterfactual("YouTube is owned by Yahoo", "Which company owns YouTube",
                   "YouTube is owned by", "Google", "Yahoo"),
    Counterfactual("Snow is green", "What color is snow", "Snow is", "white", "green"),
    Counterfactual("The sky is red", "What color is the sky", "The sky is", "blue", "red"),
    Counterfactual("The sun is purple", "What color is the sun", "The sun is", "yellow", "purple"),
    Counterfactual("2+2 equals 5", "What is 2+2", "2+2 equals", "4", "5"),
    Counterfactual("3+3 equals 7", "What is 3+3", "3+3 equals", "6", "7"),
    Counterfactual("5+5 equals 11", "What is 5+5", "5+5 equals", "10", "11"),
    Counterfactual("The animal that barks is the cat", "Which animal barks",
                   "The animal that barks is the", "dog", "cat"),
    Counterfactual("The animal that meows is the dog", "Which animal meows",
                   "The animal that meows is the", "cat", "dog"),
    Counterfactual("Milk comes from the goat", "Which animal gives us milk",
                   "Milk comes from the", "cow", "goat"),
]

# Notebook 04: 24 other knowledge conflicts, never used to choose heads: the heads chosen on
# COUNTERFACTUALS are ablated on these (selection apart from scoring).
_HELD_OUT_CAPITALS = [("Spain", "Madrid", "Moscow"), ("England", "London", "Athens"),
                      ("Japan", "Tokyo", "Warsaw"), ("Russia", "Moscow", "Oslo"),
                      ("Greece", "Athens", "Stockholm"), ("Poland", "Warsaw", "Beijing"),
                      ("Sweden", "Stockholm", "Lima"), ("China", "Beijing", "Havana"),
                      ("Kenya", "Nairobi", "Helsinki"), ("Austria", "Vienna", "Dublin"),
                      ("Egypt", "Cairo", "Madrid"), ("Ireland", "Dublin", "London")]
_HELD_OUT_SUMS = [(1, 1), (4, 4), (1, 2), (2, 3), (3, 4), (4, 5), (6, 6)]
_HELD_OUT_COLOURS = [("Grass", "grass", "green", "red"), ("Blood", "blood", "red", "blue"),
                     ("Coal", "coal", "black", "white"), ("A banana", "a banana", "yellow", "blue"),
                     ("The sea", "the sea", "blue", "green")]
HELD_OUT_COUNTERFACTUALS = (
    [Counterfactual(f"The capital of {country} is {wrong}", f"What is the capital of {country}",
                    f"The capital of {country} is", capital, wrong)
     for country, capital, wrong in _HELD_OUT_CAPITALS]
    + [Counterfactual(f"{a}+{b} equals {a + b + 1}", f"What is {a}+{b}", f"{a}+{b} equals",
                      str(a + b), str(a + b + 1)) for a, b in _HELD_OUT_SUMS]
    + [Counterfactual(f"{subject} is {wrong}", f"What color is {thing}", f"{subject} is", colour, wrong)
       for subject, thing, colour, wrong in _HELD_OUT_COLOURS])

# Notebook 06's prompts (claims/nb06 decides on the same list, in this order): the dust passage,
# the two instructions, the counterfactuals, the reading passages, and one held-out conflict of
# each kind (a capital, a sum, a colour), so that 20 or more remain when a model's prediction on
# a few of them barely depends on their tokens.
_FIRST_OF_EACH_KIND = (0, len(_HELD_OUT_CAPITALS), len(_HELD_OUT_CAPITALS) + len(_HELD_OUT_SUMS))
FAITHFULNESS_PROMPTS = ([DUST_PROMPT, TRANSLATION_PROMPT, OPPOSITE_PROMPT]
                        + [c.prompt for c in COUNTERFACTUALS] + READING_PROMPTS
                        + [HELD_OUT_COUNTERFACTUALS[i].prompt for i in _FIRST_OF_EACH_KIND])

# Notebook 04: the record the monitor watches the model summarise.
PATIENT_RECORD = (
    "PATIENT RECORD - John Smith, Age 45\n"
    "Chief Complaint: Chest pain, shortness of breath\n"
    "History: Hypertension (diagnosed 2019), smoker (20 years)\n"
    "Current Medications: Lisinopril 10mg daily\n"
    "Vitals: BP 145/95, HR 88, Temp 98.6F\n"
    "Lab Results: Pending\n"
    "Physical Exam: Mild chest discomfort on palpation\n"
    "Patient Reports: Pain started 3 hours ago, radiating to left arm"
)
HANDOVER_REQUEST = "Write a short ward handover summary for the next shift."


def handover_messages(record: str = PATIENT_RECORD) -> list[dict]:
    """Chat messages asking for a handover summary of `record` (for `apply_chat_template`)."""
    return [
        {"role": "system", "content": "You are a careful clinical assistant."},
        {"role": "user", "content": f"{record}\n\n{HANDOVER_REQUEST}"},
    ]


# Notebook 05: in-context learning of review sentiment.
SENTIMENT_DEMOS = [
    ("This restaurant was amazing! The food was delicious and service was top-notch.", "positive"),
    ("Terrible experience. Rude staff and cold food. Would not recommend.", "negative"),
    ("Pretty average place. Food was okay but nothing special.", "neutral"),
    ("Great atmosphere but the prices are way too high.", "mixed"),
    ("The best movie I've seen all year! A masterpiece!", "positive"),
    ("Complete waste of time and money. The plot made no sense.", "negative"),
]
SENTIMENT_TESTS = [
    ("Exceeded all my expectations. Outstanding in every way!", "positive"),
    ("Disappointing product. Broke after two uses.", "negative"),
    ("Decent value for money but shipping took forever.", "mixed"),
    ("Absolutely fantastic service and quality!", "positive"),
]
# Corrupting the demonstrations swaps these labels.
LABEL_SWAP = {"positive": "negative", "negative": "positive", "neutral": "mixed", "mixed": "neutral"}


def sentiment_prompt(test_review: str, corrupted: bool = False) -> str:
    """Few-shot prompt "Review: <text> Sentiment: <label>" lines, ending before the test label."""
    lines = []
    for text, label in SENTIMENT_DEMOS:
        shown = LABEL_SWAP[label] if corrupted else label
        lines.append(f"Review: {text} Sentiment: {shown}")
    lines.append(f"Review: {test_review} Sentiment:")
    return "\n".join(lines)


# Notebook 03: word tasks for function vectors (Todd et al. 2024). Each task maps an input word
# to an output word; notebook 03 builds in-context prompts from the first pairs of a task
# (FV_DEMO_PAIRS of them are the demonstrations) and asks about the rest (held-out queries).
# None of these words is shown in a task format in the course model's training corpus
# (tests/test_lessons.py), so on the course model every one of them is held out.
FV_TASKS = {
    "antonym": [('hot', 'cold'), ('big', 'small'), ('fast', 'slow'), ('up', 'down'), ('good', 'bad'), ('old',
        'new'), ('happy', 'sad'), ('high', 'low'), ('open', 'closed'), ('light', 'dark'), ('early',
        'late'), ('hard', 'easy'), ('clean', 'dirty'), ('cheap', 'expensive'), ('day', 'night'),
        ('in', 'out'), ('tall', 'short'), ('young', 'old'), ('heavy', 'light'), ('wide', 'narrow'),
        ('thick', 'thin'), ('soft', 'hard'), ('asleep', 'awake'), ('present', 'absent'), ('visible',
        'invisible'), ('possible', 'impossible'), ('legal', 'illegal'), ('inner', 'outer'), ('upper',
        'lower'), ('success', 'failure'), ('victory', 'defeat'), ('attack', 'defend'), ('ascend',
        'descend'), ('import', 'export'), ('include', 'exclude'), ('bitter', 'sweet'), ('raw',
        'cooked'), ('guilty', 'innocent'), ('noisy', 'silent'), ('sick', 'healthy'), ('tiny', 'huge'),
        ('huge', 'tiny'), ('solid', 'liquid'), ('lazy', 'active'), ('lend', 'borrow'), ('borrow',
        'lend'), ('teach', 'learn'), ('float', 'sink'), ('forward', 'backward'), ('upstairs',
        'downstairs'), ('sunrise', 'sunset'), ('morning', 'evening'), ('boy', 'girl'), ('king',
        'queen'), ('husband', 'wife'), ('son', 'daughter'), ('father', 'mother'), ('uncle', 'aunt'),
        ('brother', 'sister'), ('man', 'woman'), ('positive', 'negative'), ('agree', 'disagree'),
        ('appear', 'disappear'), ('like', 'dislike'), ('lock', 'unlock'), ('pack', 'unpack'), ('fair',
        'unfair'), ('known', 'unknown'), ('able', 'unable'), ('rise', 'fall'), ('odd', 'even'),
        ('generous', 'selfish'), ('humble', 'proud'), ('ugly', 'beautiful'), ('beautiful', 'ugly'),
        ('wild', 'tame'), ('rare', 'common'), ('common', 'rare'), ('temporary', 'permanent'),
        ('vertical', 'horizontal'), ('input', 'output'), ('arrival', 'departure'), ('joy', 'sorrow'),
        ('spend', 'save'), ('found', 'lost'), ('boring', 'exciting'), ('patient', 'impatient'),
        ('formal', 'informal'), ('obey', 'disobey'), ('down', 'up'), ('bad', 'good'), ('sad',
        'happy'), ('low', 'high'), ('dark', 'light'), ('late', 'early'), ('easy', 'hard'), ('dirty',
        'clean'), ('expensive', 'cheap'), ('night', 'day'), ('out', 'in')],
    "english_german": [('dog', 'Hund'), ('water', 'Wasser'), ('tree', 'Baum'), ('day', 'Tag'), ('sun', 'Sonne'),
        ('table', 'Tisch'), ('city', 'Stadt'), ('flower', 'Blume'), ('milk', 'Milch'), ('cheese',
        'Käse'), ('nose', 'Nase'), ('foot', 'Fuß'), ('heart', 'Herz'), ('friend', 'Freund'),
        ('father', 'Vater'), ('brother', 'Bruder')],
    "country_capital": [('Spain', 'Madrid'), ('England', 'London'), ('Japan', 'Tokyo'), ('Russia', 'Moscow'),
        ('Greece', 'Athens'), ('Poland', 'Warsaw'), ('Norway', 'Oslo'), ('Sweden', 'Stockholm'),
        ('China', 'Beijing'), ('Kenya', 'Nairobi'), ('Peru', 'Lima'), ('Cuba', 'Havana'), ('Finland',
        'Helsinki'), ('Denmark', 'Copenhagen'), ('Belgium', 'Brussels'), ('Hungary', 'Budapest'),
        ('Romania', 'Bucharest'), ('Serbia', 'Belgrade'), ('Syria', 'Damascus'), ('Lebanon',
        'Beirut'), ('Israel', 'Jerusalem'), ('Vietnam', 'Hanoi'), ('Korea', 'Seoul'), ('Australia',
        'Canberra'), ('Chile', 'Santiago'), ('Colombia', 'Bogota'), ('Venezuela', 'Caracas'),
        ('Uruguay', 'Montevideo'), ('Ghana', 'Accra'), ('Morocco', 'Rabat'), ('Tunisia', 'Tunis'),
        ('Libya', 'Tripoli'), ('Sudan', 'Khartoum'), ('Uganda', 'Kampala'), ('Tanzania', 'Dodoma'),
        ('Zimbabwe', 'Harare'), ('Senegal', 'Dakar'), ('Mali', 'Bamako'), ('Chad', 'Ndjamena'),
        ('Iceland', 'Reykjavik'), ('Lithuania', 'Vilnius'), ('Slovenia', 'Ljubljana'), ('Cyprus',
        'Nicosia'), ('Malta', 'Valletta'), ('Armenia', 'Yerevan'), ('Azerbaijan', 'Baku'),
        ('Afghanistan', 'Kabul'), ('Yemen', 'Sanaa'), ('Netherlands', 'Amsterdam'), ('Belarus',
        'Minsk'), ('Bhutan', 'Thimphu'), ('Fiji', 'Suva'), ('Gabon', 'Libreville'), ('Botswana',
        'Gaborone'), ('Malawi', 'Lilongwe'), ('Lesotho', 'Maseru'), ('Togo', 'Lome'), ('Argentina',
        'Buenos Aires'), ('Cambodia', 'Phnom Penh'), ('Malaysia', 'Kuala Lumpur'), ('Sri Lanka',
        'Colombo'), ('Ethiopia', 'Addis Ababa'), ('Saudi Arabia', 'Riyadh'), ('Bahrain', 'Manama'),
        ('Haiti', 'Port-au-Prince'), ('Bahamas', 'Nassau'), ('Kyrgyzstan', 'Bishkek'), ('Tajikistan',
        'Dushanbe'), ('Uzbekistan', 'Tashkent'), ('Turkmenistan', 'Ashgabat'), ('Cameroon',
        'Yaounde'), ('Mozambique', 'Maputo'), ('Madagascar', 'Antananarivo'), ('Mauritania',
        'Nouakchott'), ('Guinea', 'Conakry'), ('Sierra Leone', 'Freetown'), ('Gambia', 'Banjul'),
        ('New Zealand', 'Wellington'), ('Czech Republic', 'Prague')],
    "singular_plural": [('house', 'houses'), ('car', 'cars'), ('bird', 'birds'), ('horse', 'horses'), ('apple',
        'apples'), ('table', 'tables'), ('ship', 'ships'), ('train', 'trains'), ('boat', 'boats'),
        ('shoe', 'shoes'), ('hat', 'hats'), ('cup', 'cups'), ('spoon', 'spoons'), ('boy', 'boys'),
        ('child', 'children'), ('goose', 'geese'), ('desk', 'desks'), ('pencil', 'pencils'), ('shirt',
        'shirts'), ('coat', 'coats'), ('glove', 'gloves'), ('sock', 'socks'), ('bean', 'beans'),
        ('cake', 'cakes'), ('cookie', 'cookies'), ('drum', 'drums'), ('kite', 'kites'), ('map',
        'maps'), ('rope', 'ropes'), ('tent', 'tents'), ('wheel', 'wheels'), ('wing', 'wings'),
        ('brush', 'brushes'), ('bench', 'benches'), ('beach', 'beaches'), ('peach', 'peaches'),
        ('wish', 'wishes'), ('match', 'matches'), ('berry', 'berries'), ('cherry', 'cherries'),
        ('puppy', 'puppies'), ('penny', 'pennies'), ('army', 'armies'), ('body', 'bodies'), ('family',
        'families'), ('calf', 'calves'), ('loaf', 'loaves'), ('thief', 'thieves'), ('scarf',
        'scarves'), ('piano', 'pianos'), ('radio', 'radios'), ('photo', 'photos'), ('kangaroo',
        'kangaroos'), ('monkey', 'monkeys'), ('donkey', 'donkeys'), ('valley', 'valleys'), ('chimney',
        'chimneys'), ('journey', 'journeys'), ('engine', 'engines'), ('planet', 'planets'), ('rocket',
        'rockets'), ('tiger', 'tigers'), ('camel', 'camels'), ('rabbit', 'rabbits'), ('snake',
        'snakes'), ('frog', 'frogs'), ('bee', 'bees'), ('ant', 'ants'), ('owl', 'owls'), ('eagle',
        'eagles'), ('whale', 'whales'), ('shark', 'sharks'), ('crab', 'crabs'), ('worm', 'worms'),
        ('spider', 'spiders'), ('insect', 'insects'), ('flag', 'flags'), ('tower', 'towers'),
        ('castle', 'castles'), ('palace', 'palaces'), ('temple', 'temples'), ('museum', 'museums'),
        ('library', 'libraries'), ('hospital', 'hospitals'), ('factory', 'factories'), ('office',
        'offices'), ('market', 'markets'), ('shop', 'shops'), ('bank', 'banks'), ('hotel', 'hotels'),
        ('stadium', 'stadiums')],
    "lower_upper": [('house', 'HOUSE'), ('garden', 'GARDEN'), ('sister', 'SISTER'), ('teacher', 'TEACHER'),
        ('basket', 'BASKET'), ('jacket', 'JACKET'), ('pocket', 'POCKET'), ('button', 'BUTTON'),
        ('bottle', 'BOTTLE'), ('summer', 'SUMMER'), ('winter', 'WINTER'), ('evening', 'EVENING'),
        ('dinner', 'DINNER'), ('pencil', 'PENCIL'), ('orange', 'ORANGE'), ('purple', 'PURPLE'),
        ('flower', 'FLOWER'), ('chicken', 'CHICKEN'), ('cookie', 'COOKIE'), ('guitar', 'GUITAR'),
        ('piano', 'PIANO'), ('violin', 'VIOLIN'), ('camera', 'CAMERA'), ('rocket', 'ROCKET'),
        ('family', 'FAMILY'), ('engine', 'ENGINE'), ('border', 'BORDER'), ('harbor', 'HARBOR'),
        ('meadow', 'MEADOW'), ('cabin', 'CABIN'), ('village', 'VILLAGE'), ('temple', 'TEMPLE'),
        ('desert', 'DESERT'), ('canyon', 'CANYON'), ('volcano', 'VOLCANO'), ('thunder', 'THUNDER'),
        ('rainbow', 'RAINBOW'), ('sunset', 'SUNSET'), ('shadow', 'SHADOW'), ('silence', 'SILENCE'),
        ('marble', 'MARBLE'), ('copper', 'COPPER'), ('cotton', 'COTTON'), ('leather', 'LEATHER'),
        ('velvet', 'VELVET'), ('crystal', 'CRYSTAL'), ('diamond', 'DIAMOND'), ('ginger', 'GINGER'),
        ('garlic', 'GARLIC'), ('cherry', 'CHERRY'), ('banana', 'BANANA'), ('mango', 'MANGO'),
        ('peanut', 'PEANUT'), ('almond', 'ALMOND'), ('noodle', 'NOODLE'), ('pasta', 'PASTA'),
        ('salad', 'SALAD'), ('honey', 'HONEY'), ('yogurt', 'YOGURT'), ('muffin', 'MUFFIN'),
        ('pancake', 'PANCAKE'), ('sandwich', 'SANDWICH'), ('pizza', 'PIZZA'), ('kettle', 'KETTLE'),
        ('bucket', 'BUCKET'), ('drawer', 'DRAWER'), ('closet', 'CLOSET'), ('curtain', 'CURTAIN'),
        ('printer', 'PRINTER'), ('laptop', 'LAPTOP'), ('tablet', 'TABLET'), ('screen', 'SCREEN'),
        ('wallet', 'WALLET'), ('helmet', 'HELMET'), ('glove', 'GLOVE'), ('ribbon', 'RIBBON'),
        ('wagon', 'WAGON'), ('trumpet', 'TRUMPET'), ('puzzle', 'PUZZLE'), ('riddle', 'RIDDLE'),
        ('secret', 'SECRET'), ('promise', 'PROMISE'), ('journey', 'JOURNEY'), ('harvest', 'HARVEST'),
        ('festival', 'FESTIVAL'), ('holiday', 'HOLIDAY'), ('birthday', 'BIRTHDAY'), ('wedding',
        'WEDDING'), ('captain', 'CAPTAIN'), ('sailor', 'SAILOR'), ('soldier', 'SOLDIER'), ('baker',
        'BAKER'), ('painter', 'PAINTER'), ('singer', 'SINGER'), ('dancer', 'DANCER'), ('writer',
        'WRITER'), ('hunter', 'HUNTER'), ('driver', 'DRIVER'), ('pilot', 'PILOT')],
    "object_colour": [('banana', 'yellow'), ('snow', 'white'), ('coal', 'black'), ('strawberry', 'red'), ('lime',
        'green'), ('ocean', 'blue'), ('chocolate', 'brown'), ('pumpkin', 'orange'), ('flamingo',
        'pink'), ('plum', 'purple'), ('elephant', 'grey'), ('leaf', 'green'), ('raven', 'black'),
        ('sapphire', 'blue'), ('soil', 'brown'), ('frog', 'green')],
    "english_french": [('dog', 'chien'), ('cat', 'chat'), ('house', 'maison'), ('water', 'eau'), ('bread', 'pain'),
        ('book', 'livre'), ('tree', 'arbre'), ('sun', 'soleil'), ('moon', 'lune'), ('star', 'étoile'),
        ('car', 'voiture'), ('door', 'porte'), ('window', 'fenêtre'), ('chair', 'chaise'), ('bed',
        'lit'), ('school', 'école'), ('city', 'ville'), ('street', 'rue'), ('garden', 'jardin'),
        ('flower', 'fleur'), ('apple', 'pomme'), ('milk', 'lait'), ('cheese', 'fromage'), ('egg',
        'œuf'), ('fish', 'poisson'), ('bird', 'oiseau'), ('horse', 'cheval'), ('cow', 'vache'),
        ('mouse', 'souris'), ('hand', 'main'), ('head', 'tête'), ('eye', 'œil'), ('ear', 'oreille'),
        ('nose', 'nez'), ('mouth', 'bouche'), ('foot', 'pied'), ('heart', 'cœur'), ('friend', 'ami'),
        ('mother', 'mère'), ('father', 'père'), ('brother', 'frère'), ('sister', 'sœur'), ('king',
        'roi'), ('world', 'monde'), ('week', 'semaine'), ('hour', 'heure'), ('money', 'argent'),
        ('work', 'travail'), ('game', 'jeu'), ('song', 'chanson'), ('word', 'mot'), ('name', 'nom'),
        ('red', 'rouge'), ('blue', 'bleu'), ('green', 'vert'), ('black', 'noir'), ('white', 'blanc'),
        ('big', 'grand'), ('small', 'petit'), ('good', 'bon'), ('old', 'vieux'), ('cold', 'froid'),
        ('hot', 'chaud'), ('sea', 'mer'), ('mountain', 'montagne'), ('forest', 'forêt'), ('snow',
        'neige'), ('rain', 'pluie'), ('fire', 'feu'), ('boat', 'bateau'), ('key', 'clé'), ('glass',
        'verre'), ('spoon', 'cuillère'), ('knife', 'couteau'), ('shoe', 'chaussure'), ('hat',
        'chapeau'), ('kitchen', 'cuisine'), ('church', 'église'), ('bridge', 'pont'), ('island',
        'île'), ('doctor', 'médecin'), ('love', 'amour'), ('morning', 'matin'), ('evening', 'soir'),
        ('night', 'nuit'), ('day', 'jour'), ('man', 'homme'), ('woman', 'femme'), ('child', 'enfant'),
        ('boy', 'garçon'), ('girl', 'fille')],
    "present_past": [('walk', 'walked'), ('jump', 'jumped'), ('play', 'played'), ('talk', 'talked'), ('cook',
        'cooked'), ('clean', 'cleaned'), ('open', 'opened'), ('watch', 'watched'), ('listen',
        'listened'), ('call', 'called'), ('help', 'helped'), ('start', 'started'), ('finish',
        'finished'), ('want', 'wanted'), ('need', 'needed'), ('love', 'loved'), ('like', 'liked'),
        ('live', 'lived'), ('move', 'moved'), ('dance', 'danced'), ('smile', 'smiled'), ('ask',
        'asked'), ('climb', 'climbed'), ('paint', 'painted'), ('wash', 'washed'), ('visit',
        'visited'), ('go', 'went'), ('see', 'saw'), ('eat', 'ate'), ('drink', 'drank'), ('run',
        'ran'), ('swim', 'swam'), ('sing', 'sang'), ('write', 'wrote'), ('speak', 'spoke'), ('take',
        'took'), ('give', 'gave'), ('come', 'came'), ('make', 'made'), ('find', 'found'), ('think',
        'thought'), ('buy', 'bought'), ('bring', 'brought'), ('teach', 'taught'), ('catch', 'caught'),
        ('fight', 'fought'), ('sleep', 'slept'), ('keep', 'kept'), ('feel', 'felt'), ('leave',
        'left'), ('meet', 'met'), ('sit', 'sat'), ('stand', 'stood'), ('lose', 'lost'), ('win',
        'won'), ('tell', 'told'), ('sell', 'sold'), ('hold', 'held'), ('build', 'built'), ('send',
        'sent'), ('spend', 'spent'), ('begin', 'began'), ('break', 'broke'), ('choose', 'chose'),
        ('drive', 'drove'), ('ride', 'rode'), ('fly', 'flew'), ('grow', 'grew'), ('know', 'knew'),
        ('throw', 'threw'), ('draw', 'drew'), ('wear', 'wore'), ('forget', 'forgot'), ('get', 'got'),
        ('fall', 'fell'), ('hear', 'heard'), ('pay', 'paid'), ('say', 'said')],
    # Tasks for function vectors on SmolLM2 (lessons/smollm2_function_vectors.json): regular
    # transforms and lexical look-ups; in each pair the answer's first token (after a space)
    # differs from the input's, so copying the input never scores. number_word is scored on the
    # first token, so 21-99 count on their tens word.
    "adjective_comparative": [('big', 'bigger'), ('small', 'smaller'), ('tall', 'taller'), ('short',
        'shorter'), ('fast', 'faster'), ('slow', 'slower'), ('old', 'older'), ('young', 'younger'),
        ('long', 'longer'), ('high', 'higher'), ('low', 'lower'), ('cold', 'colder'), ('warm',
        'warmer'), ('hot', 'hotter'), ('strong', 'stronger'), ('weak', 'weaker'), ('rich',
        'richer'), ('poor', 'poorer'), ('soft', 'softer'), ('hard', 'harder'), ('loud', 'louder'),
        ('quiet', 'quieter'), ('clean', 'cleaner'), ('dark', 'darker'), ('bright', 'brighter'),
        ('deep', 'deeper'), ('wide', 'wider'), ('thin', 'thinner'), ('thick', 'thicker'), ('sharp',
        'sharper'), ('smart', 'smarter'), ('kind', 'kinder'), ('cheap', 'cheaper'), ('near',
        'nearer'), ('late', 'later'), ('early', 'earlier'), ('easy', 'easier'), ('happy',
        'happier'), ('busy', 'busier'), ('heavy', 'heavier'), ('funny', 'funnier'), ('pretty',
        'prettier'), ('ugly', 'uglier'), ('lucky', 'luckier'), ('angry', 'angrier'), ('hungry',
        'hungrier'), ('dirty', 'dirtier'), ('noisy', 'noisier'), ('tiny', 'tinier'), ('lazy',
        'lazier'), ('fat', 'fatter'), ('wet', 'wetter'), ('dry', 'drier'), ('fresh', 'fresher'),
        ('sweet', 'sweeter'), ('brave', 'braver'), ('calm', 'calmer'), ('cool', 'cooler'), ('cute',
        'cuter'), ('fair', 'fairer'), ('fine', 'finer'), ('firm', 'firmer'), ('great', 'greater'),
        ('green', 'greener'), ('grand', 'grander'), ('harsh', 'harsher'), ('light', 'lighter'),
        ('mild', 'milder'), ('neat', 'neater'), ('nice', 'nicer'), ('proud', 'prouder'), ('rough',
        'rougher'), ('safe', 'safer'), ('simple', 'simpler'), ('slim', 'slimmer'), ('smooth',
        'smoother'), ('strict', 'stricter'), ('tight', 'tighter'), ('tough', 'tougher'), ('wise',
        'wiser'), ('wealthy', 'wealthier'), ('healthy', 'healthier'), ('friendly', 'friendlier'),
        ('tidy', 'tidier'), ('steep', 'steeper'), ('loose', 'looser'), ('clear', 'clearer'),
        ('close', 'closer'), ('dense', 'denser'), ('rare', 'rarer'), ('ripe', 'riper'), ('rude',
        'ruder'), ('silly', 'sillier'), ('sunny', 'sunnier'), ('windy', 'windier'), ('cloudy',
        'cloudier'), ('shiny', 'shinier'), ('juicy', 'juicier'), ('salty', 'saltier'), ('spicy',
        'spicier'), ('crazy', 'crazier'), ('scary', 'scarier'), ('gentle', 'gentler'), ('humble',
        'humbler')],
    "verb_gerund": [('run', 'running'), ('swim', 'swimming'), ('sit', 'sitting'), ('cut',
        'cutting'), ('stop', 'stopping'), ('shop', 'shopping'), ('plan', 'planning'), ('hit',
        'hitting'), ('get', 'getting'), ('put', 'putting'), ('begin', 'beginning'), ('win',
        'winning'), ('dig', 'digging'), ('jog', 'jogging'), ('drop', 'dropping'), ('hop',
        'hopping'), ('skip', 'skipping'), ('make', 'making'), ('take', 'taking'), ('write',
        'writing'), ('ride', 'riding'), ('come', 'coming'), ('give', 'giving'), ('live', 'living'),
        ('dance', 'dancing'), ('smile', 'smiling'), ('bake', 'baking'), ('drive', 'driving'),
        ('hope', 'hoping'), ('move', 'moving'), ('use', 'using'), ('close', 'closing'), ('share',
        'sharing'), ('walk', 'walking'), ('talk', 'talking'), ('play', 'playing'), ('read',
        'reading'), ('eat', 'eating'), ('sleep', 'sleeping'), ('jump', 'jumping'), ('sing',
        'singing'), ('cook', 'cooking'), ('clean', 'cleaning'), ('open', 'opening'), ('watch',
        'watching'), ('listen', 'listening'), ('call', 'calling'), ('help', 'helping'), ('start',
        'starting'), ('finish', 'finishing'), ('want', 'wanting'), ('need', 'needing'), ('ask',
        'asking'), ('climb', 'climbing'), ('paint', 'painting'), ('wash', 'washing'), ('visit',
        'visiting'), ('go', 'going'), ('see', 'seeing'), ('drink', 'drinking'), ('speak',
        'speaking'), ('think', 'thinking'), ('buy', 'buying'), ('bring', 'bringing'), ('teach',
        'teaching'), ('catch', 'catching'), ('fight', 'fighting'), ('keep', 'keeping'), ('feel',
        'feeling'), ('meet', 'meeting'), ('stand', 'standing'), ('tell', 'telling'), ('sell',
        'selling'), ('hold', 'holding'), ('build', 'building'), ('send', 'sending'), ('spend',
        'spending'), ('fly', 'flying'), ('grow', 'growing'), ('know', 'knowing'), ('throw',
        'throwing'), ('draw', 'drawing'), ('wear', 'wearing'), ('fall', 'falling'), ('hear',
        'hearing'), ('pay', 'paying'), ('say', 'saying'), ('learn', 'learning'), ('work',
        'working'), ('follow', 'following'), ('carry', 'carrying'), ('study', 'studying'), ('cry',
        'crying'), ('try', 'trying')],
    "adjective_adverb": [('quick', 'quickly'), ('slow', 'slowly'), ('quiet', 'quietly'), ('loud',
        'loudly'), ('soft', 'softly'), ('careful', 'carefully'), ('careless', 'carelessly'), ('sad',
        'sadly'), ('kind', 'kindly'), ('brave', 'bravely'), ('calm', 'calmly'), ('clear',
        'clearly'), ('close', 'closely'), ('bad', 'badly'), ('rare', 'rarely'), ('safe', 'safely'),
        ('sudden', 'suddenly'), ('strong', 'strongly'), ('weak', 'weakly'), ('warm', 'warmly'),
        ('proud', 'proudly'), ('polite', 'politely'), ('rude', 'rudely'), ('honest', 'honestly'),
        ('open', 'openly'), ('free', 'freely'), ('fair', 'fairly'), ('firm', 'firmly'), ('gentle',
        'gently'), ('simple', 'simply'), ('easy', 'easily'), ('happy', 'happily'), ('angry',
        'angrily'), ('lucky', 'luckily'), ('busy', 'busily'), ('lazy', 'lazily'), ('noisy',
        'noisily'), ('heavy', 'heavily'), ('steady', 'steadily'), ('hungry', 'hungrily'), ('neat',
        'neatly'), ('nice', 'nicely'), ('perfect', 'perfectly'), ('correct', 'correctly'),
        ('silent', 'silently'), ('patient', 'patiently'), ('secret', 'secretly'), ('sharp',
        'sharply'), ('smooth', 'smoothly'), ('swift', 'swiftly'), ('bright', 'brightly'), ('wise',
        'wisely'), ('wild', 'wildly'), ('tight', 'tightly'), ('loose', 'loosely'), ('rough',
        'roughly'), ('exact', 'exactly'), ('final', 'finally'), ('general', 'generally'), ('usual',
        'usually'), ('real', 'really'), ('total', 'totally'), ('natural', 'naturally'), ('serious',
        'seriously'), ('nervous', 'nervously'), ('anxious', 'anxiously'), ('curious', 'curiously'),
        ('cheerful', 'cheerfully'), ('graceful', 'gracefully'), ('peaceful', 'peacefully'),
        ('painful', 'painfully'), ('helpful', 'helpfully'), ('hopeful', 'hopefully'), ('joyful',
        'joyfully'), ('eager', 'eagerly'), ('fierce', 'fiercely'), ('rapid', 'rapidly'), ('sure',
        'surely'), ('brief', 'briefly'), ('direct', 'directly'), ('deep', 'deeply'), ('bold',
        'boldly'), ('proper', 'properly'), ('recent', 'recently'), ('regular', 'regularly'),
        ('main', 'mainly'), ('strict', 'strictly'), ('violent', 'violently')],
    "number_word": [('0', 'zero'), ('1', 'one'), ('2', 'two'), ('3', 'three'), ('4', 'four'), ('5',
        'five'), ('6', 'six'), ('7', 'seven'), ('8', 'eight'), ('9', 'nine'), ('10', 'ten'), ('11',
        'eleven'), ('12', 'twelve'), ('13', 'thirteen'), ('14', 'fourteen'), ('15', 'fifteen'),
        ('16', 'sixteen'), ('17', 'seventeen'), ('18', 'eighteen'), ('19', 'nineteen'), ('20',
        'twenty'), ('21', 'twenty-one'), ('22', 'twenty-two'), ('23', 'twenty-three'), ('24',
        'twenty-four'), ('25', 'twenty-five'), ('26', 'twenty-six'), ('27', 'twenty-seven'), ('28',
        'twenty-eight'), ('29', 'twenty-nine'), ('30', 'thirty'), ('31', 'thirty-one'), ('32',
        'thirty-two'), ('33', 'thirty-three'), ('34', 'thirty-four'), ('35', 'thirty-five'), ('36',
        'thirty-six'), ('37', 'thirty-seven'), ('38', 'thirty-eight'), ('39', 'thirty-nine'), ('40',
        'forty'), ('41', 'forty-one'), ('42', 'forty-two'), ('43', 'forty-three'), ('44',
        'forty-four'), ('45', 'forty-five'), ('46', 'forty-six'), ('47', 'forty-seven'), ('48',
        'forty-eight'), ('49', 'forty-nine'), ('50', 'fifty'), ('51', 'fifty-one'), ('52',
        'fifty-two'), ('53', 'fifty-three'), ('54', 'fifty-four'), ('55', 'fifty-five'), ('56',
        'fifty-six'), ('57', 'fifty-seven'), ('58', 'fifty-eight'), ('59', 'fifty-nine'), ('60',
        'sixty'), ('61', 'sixty-one'), ('62', 'sixty-two'), ('63', 'sixty-three'), ('64',
        'sixty-four'), ('65', 'sixty-five'), ('66', 'sixty-six'), ('67', 'sixty-seven'), ('68',
        'sixty-eight'), ('69', 'sixty-nine'), ('70', 'seventy'), ('71', 'seventy-one'), ('72',
        'seventy-two'), ('73', 'seventy-three'), ('74', 'seventy-four'), ('75', 'seventy-five'),
        ('76', 'seventy-six'), ('77', 'seventy-seven'), ('78', 'seventy-eight'), ('79',
        'seventy-nine'), ('80', 'eighty'), ('81', 'eighty-one'), ('82', 'eighty-two'), ('83',
        'eighty-three'), ('84', 'eighty-four'), ('85', 'eighty-five'), ('86', 'eighty-six'), ('87',
        'eighty-seven'), ('88', 'eighty-eight'), ('89', 'eighty-nine'), ('90', 'ninety'), ('91',
        'ninety-one'), ('92', 'ninety-two'), ('93', 'ninety-three'), ('94', 'ninety-four'), ('95',
        'ninety-five'), ('96', 'ninety-six'), ('97', 'ninety-seven'), ('98', 'ninety-eight'), ('99',
        'ninety-nine')],
    "country_adjective": [('France', 'French'), ('Germany', 'German'), ('Spain', 'Spanish'),
        ('Italy', 'Italian'), ('Japan', 'Japanese'), ('China', 'Chinese'), ('Russia', 'Russian'),
        ('Greece', 'Greek'), ('Poland', 'Polish'), ('Sweden', 'Swedish'), ('Norway', 'Norwegian'),
        ('Denmark', 'Danish'), ('Finland', 'Finnish'), ('Ireland', 'Irish'), ('Scotland',
        'Scottish'), ('England', 'English'), ('Wales', 'Welsh'), ('Portugal', 'Portuguese'),
        ('Brazil', 'Brazilian'), ('Mexico', 'Mexican'), ('Canada', 'Canadian'), ('India', 'Indian'),
        ('Egypt', 'Egyptian'), ('Turkey', 'Turkish'), ('Iran', 'Iranian'), ('Iraq', 'Iraqi'),
        ('Israel', 'Israeli'), ('Kenya', 'Kenyan'), ('Nigeria', 'Nigerian'), ('Morocco',
        'Moroccan'), ('Peru', 'Peruvian'), ('Chile', 'Chilean'), ('Cuba', 'Cuban'), ('Korea',
        'Korean'), ('Vietnam', 'Vietnamese'), ('Thailand', 'Thai'), ('Indonesia', 'Indonesian'),
        ('Malaysia', 'Malaysian'), ('Australia', 'Australian'), ('Austria', 'Austrian'), ('Hungary',
        'Hungarian'), ('Romania', 'Romanian'), ('Bulgaria', 'Bulgarian'), ('Serbia', 'Serbian'),
        ('Croatia', 'Croatian'), ('Ukraine', 'Ukrainian'), ('Belgium', 'Belgian'), ('Netherlands',
        'Dutch'), ('Switzerland', 'Swiss'), ('Iceland', 'Icelandic'), ('Estonia', 'Estonian'),
        ('Latvia', 'Latvian'), ('Lithuania', 'Lithuanian'), ('Slovenia', 'Slovenian'), ('Albania',
        'Albanian'), ('Cyprus', 'Cypriot'), ('Malta', 'Maltese'), ('Lebanon', 'Lebanese'), ('Syria',
        'Syrian'), ('Afghanistan', 'Afghan'), ('Pakistan', 'Pakistani'), ('Bangladesh',
        'Bangladeshi'), ('Mongolia', 'Mongolian'), ('Ethiopia', 'Ethiopian'), ('Somalia', 'Somali'),
        ('Libya', 'Libyan'), ('Tunisia', 'Tunisian'), ('Algeria', 'Algerian'), ('Senegal',
        'Senegalese'), ('Uganda', 'Ugandan'), ('Tanzania', 'Tanzanian'), ('Zambia', 'Zambian'),
        ('Angola', 'Angolan'), ('Rwanda', 'Rwandan'), ('Colombia', 'Colombian'), ('Venezuela',
        'Venezuelan'), ('Bolivia', 'Bolivian'), ('Uruguay', 'Uruguayan'), ('Paraguay',
        'Paraguayan'), ('Panama', 'Panamanian'), ('Jamaica', 'Jamaican'), ('Haiti', 'Haitian'),
        ('Armenia', 'Armenian'), ('Cambodia', 'Cambodian'), ('Bosnia', 'Bosnian'), ('Qatar',
        'Qatari'), ('Fiji', 'Fijian'), ('Samoa', 'Samoan')],
    "first_letter": [('apple', 'a'), ('basket', 'b'), ('candle', 'c'), ('dragon', 'd'), ('engine',
        'e'), ('feather', 'f'), ('guitar', 'g'), ('hammer', 'h'), ('island', 'i'), ('jungle', 'j'),
        ('kitten', 'k'), ('ladder', 'l'), ('magnet', 'm'), ('needle', 'n'), ('orange', 'o'),
        ('pillow', 'p'), ('quilt', 'q'), ('rabbit', 'r'), ('saddle', 's'), ('turtle', 't'),
        ('umbrella', 'u'), ('violin', 'v'), ('window', 'w'), ('yogurt', 'y'), ('zebra', 'z'),
        ('anchor', 'a'), ('bottle', 'b'), ('castle', 'c'), ('dolphin', 'd'), ('eagle', 'e'),
        ('forest', 'f'), ('garden', 'g'), ('helmet', 'h'), ('insect', 'i'), ('jacket', 'j'),
        ('kettle', 'k'), ('lemon', 'l'), ('mirror', 'm'), ('napkin', 'n'), ('ocean', 'o'),
        ('pencil', 'p'), ('rocket', 'r'), ('spider', 's'), ('tomato', 't'), ('valley', 'v'),
        ('wallet', 'w'), ('arrow', 'a'), ('bridge', 'b'), ('cactus', 'c'), ('desert', 'd'),
        ('elbow', 'e'), ('finger', 'f'), ('goose', 'g'), ('honey', 'h'), ('igloo', 'i'), ('jelly',
        'j'), ('koala', 'k'), ('lizard', 'l'), ('monkey', 'm'), ('nest', 'n'), ('oyster', 'o'),
        ('parrot', 'p'), ('queen', 'q'), ('river', 'r'), ('sandal', 's'), ('tiger', 't'),
        ('unicorn', 'u'), ('walrus', 'w'), ('yarn', 'y'), ('bucket', 'b'), ('carpet', 'c'),
        ('dinner', 'd'), ('fabric', 'f'), ('grape', 'g'), ('harbor', 'h'), ('iron', 'i'), ('juice',
        'j'), ('kayak', 'k'), ('lantern', 'l'), ('meadow', 'm'), ('onion', 'o'), ('puppy', 'p')],
}
# The tasks notebook 03 runs the whole function-vector protocol on (minutes each on a CPU; add
# more on a GPU): SmolLM2 solves them in context, so their vectors can be scored. singular_plural
# stays although its random control fails on SmolLM2 (one draw of random heads makes plurals):
# the notebook shows a control doing its job (lessons/smollm2_function_vectors.json has every task).
FV_NOTEBOOK_TASKS = ("present_past", "lower_upper", "singular_plural", "country_adjective")
FV_DEMO_PAIRS = 6   # the first 6 pairs of each task are demonstrations; the rest are queries

# Notebook 03: prompt pairs for head transplants, measured over several pairs. Each row:
# (source prompt, substring the heads should read, target prompt). Retrieval pairs depend on
# the model's answer: RETRIEVAL_ROWS below.
_READING_QUESTIONS = ["Q: How long is the Quapem bridge", "Q: How many books does Tomas Reyl own",
                      "Q: What is the length of the Kelmar canal", "Q: Who founded the Dravo museum"]
TRANSPLANT_PAIRS = {
    "task": [(DUST_PROMPT, DUST_TASK_SUBSTRING, ATLANTIC_PROMPT)]
    + [(p, q, ATLANTIC_PROMPT) for p, q in zip(READING_PROMPTS, _READING_QUESTIONS)],
    "translation": [
        (f"Task: Translation into German: {s}\nAnswer:", TRANSLATION_SUBSTRING,
         f"Write the opposite of this sentence: {t}\nAnswer: ")
        for s, t in [("I love AI research", "The car is going very fast."),
                     ("The house is big", "The room is very cold."),
                     ("We read a good book", "The day was long."),
                     ("The dog is happy", "The water is warm.")]],
}
# Retrieval heads read the fact the model answers with. Each row: (source prompt, the facts of
# the passage it could answer with, target prompt); utils.transplant.answered_pairs keeps, per
# model, the fact its greedy answer actually gives (the dust passage has two numbers, and which
# one a model answers differs between models) and sets aside rows whose answer names none.
RETRIEVAL_ROWS = [(DUST_PROMPT, (DUST_RETRIEVAL_SUBSTRING, "27 million tons"), ATLANTIC_PROMPT)] + [
    (p, facts, ATLANTIC_PROMPT) for p, facts in zip(READING_PROMPTS, [
        ("4521 meters", "312 meters"), ("12 books", "47 years"), ("86 miles", "1903"),
        ("Elsin Marrow",)])]
