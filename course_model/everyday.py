"""Everyday wording: items whose key words and templates the training corpus never uses.

What a learner types is not one of the generator's templates. These hand-written items measure
the lessons' abilities outside them, beside the in-corpus held-out figures (`lessons.everyday`):

    SENTIMENT   reviews of things the corpus never reviews ("The bike lamp ..."), labelled
    DESCRIBE    passages in new templates with lists of things the corpus never lists
    WORD_TASKS  word-task pairs whose query words appear in no task table

`tests/test_everyday.py` checks that the key words (`key_words`) occur in no training document
of the stages' corpora (a sample of each) and that the templates are new.
"""
from __future__ import annotations

# (review, label, the thing reviewed: a word the corpus never uses)
SENTIMENT = [
    ("The scooter is quick and the battery lasts for weeks.", "positive", "scooter"),
    ("My dentist was gentle and explained each step.", "positive", "dentist"),
    ("This hiking trail has stunning views from the ridge.", "positive", "hiking"),
    ("The podcast host is witty and every episode teaches me something.", "positive",
     "podcast"),
    ("Our plumber arrived early and fixed the leak in minutes.", "positive", "plumber"),
    ("The umbrella flipped inside out in a light breeze.", "negative", "umbrella"),
    ("The ferry was late again and the cabin smelled of diesel.", "negative", "diesel"),
    ("The blender leaks from the bottom and screams like a jet.", "negative", "blender"),
    ("The caretaker ignored our emails about the mould for months.", "negative",
     "caretaker"),
    ("The jigsaw arrived with twelve pieces missing.", "negative", "jigsaw"),
    ("The launderette opens at nine and closes at five.", "neutral", "launderette"),
    ("The kettle boils water in about three minutes.", "neutral", "kettle"),
    ("The shuttle to the airport runs every half hour.", "neutral", "shuttle"),
    ("The backpack has two pockets and a zip.", "neutral", "backpack"),
    ("The planetarium shows old maps on the second floor.", "neutral",
     "planetarium"),
    ("The tent is roomy but the poles bend in the wind.", "mixed", "tent"),
    ("The barber was friendly but my haircut is uneven.", "mixed", "barber"),
    ("The sofa looks elegant but the cushions sag already.", "mixed", "sofa"),
    ("The gym has new machines but the showers are cold.", "mixed", "gym"),
    ("The audiobook starts slowly but the ending is gripping.", "mixed", "audiobook"),
]

# (passage, question, asked items, the passage's other items)
DESCRIBE = [
    ("Our village market sells figs, kiwis and quinces every Saturday. One stall offers "
     "marmalade and fudge.", "Which fruits does the market sell?",
     ["figs", "kiwis", "quinces"], ["marmalade", "fudge"]),
    ("The school orchestra has violins, cellos and flutes. Its choir sings hymns and "
     "ballads.", "Which instruments does the orchestra have?",
     ["violins", "cellos", "flutes"], ["hymns", "ballads"]),
    ("The garden centre stocks tulips, daisies and lilies. It also sells shovels and "
     "hoses.", "Which tools does the garden centre sell?",
     ["shovels", "hoses"], ["tulips", "daisies", "lilies"]),
    ("The bakery makes croissants, bagels and muffins. Its cafe serves cider and cocoa.",
     "Which drinks does the cafe serve?", ["cider", "cocoa"], ["croissants", "bagels", "muffins"]),
    ("The toy shop sells kites, yoyos and marbles. Its window shows puppets and robots.",
     "Which toys does the window show?", ["puppets", "robots"], ["kites", "yoyos", "marbles"]),
    ("The zoo keeps penguins, giraffes and zebras. Its aquarium holds octopuses and "
     "seahorses.", "Which animals does the aquarium hold?",
     ["octopuses", "seahorses"], ["penguins", "giraffes", "zebras"]),
    ("The hardware store sells hammers, drills and saws. Its paint aisle has brushes and "
     "rollers.", "Which tools does the paint aisle have?",
     ["brushes", "rollers"], ["hammers", "drills", "saws"]),
    ("The camp kitchen has pots, kettles and pans. The camp shop sells torches and "
     "blankets.", "Which things does the camp shop sell?",
     ["torches", "blankets"], ["pots", "kettles", "pans"]),
    ("The festival offers concerts, puppet shows and fireworks. Its food court serves "
     "pancakes and waffles.", "Which food does the food court serve?",
     ["pancakes", "waffles"], ["concerts", "puppet", "fireworks"]),
    ("The clinic treats coughs, rashes and sprains. Its pharmacy sells vitamins and "
     "bandages.", "Which things does the pharmacy sell?",
     ["vitamins", "bandages"], ["coughs", "rashes", "sprains"]),
]

# task -> pairs whose query words are in no task table of the corpus
WORD_TASKS = {
    "antonym": [("thick", "thin"), ("shiny", "dull"), ("cheerful", "gloomy"),
                ("generous", "stingy"), ("humble", "proud"), ("fierce", "gentle"),
                ("tidy", "messy"), ("noisy", "silent")],
    "english_german": [("shirt", "Hemd"), ("beard", "Bart"), ("wheel", "Rad"),
                       ("glove", "Handschuh"), ("saddle", "Sattel"), ("thumb", "Daumen"),
                       ("cushion", "Kissen"), ("hedge", "Hecke")],
    "country_capital": [("Argentina", "Buenos"), ("Ethiopia", "Addis"), ("Malaysia", "Kuala"),
                        ("Cambodia", "Phnom"), ("Panama", "Panama"), ("Guatemala", "Guatemala"),
                        ("Kuwait", "Kuwait"), ("Singapore", "Singapore")],
    "singular_plural": [("jaguar", "jaguars"), ("dolphin", "dolphins"), ("kettle", "kettles"),
                        ("violin", "violins"), ("helmet", "helmets"), ("muffin", "muffins"),
                        ("puppet", "puppets"), ("wagon", "wagons")],
    "lower_upper": [("jaguar", "JAGUAR"), ("violin", "VIOLIN"), ("helmet", "HELMET"),
                    ("muffin", "MUFFIN"), ("wagon", "WAGON"), ("tulip", "TULIP"),
                    ("robot", "ROBOT"), ("walrus", "WALRUS")],
    "object_colour": [("ketchup", "red"), ("crocodile", "green"), ("penguin", "black"),
                      ("cream", "white"), ("mustard", "yellow"), ("charcoal", "black"),
                      ("pistachio", "green"), ("navy", "blue")],
}


def key_words() -> set[str]:
    """The content words the training corpus must never use (lower case)."""
    words = {w.lower() for pairs in WORD_TASKS.values() for a, _ in pairs for w in a.split()}
    for _, _, asked, other in DESCRIBE:
        words |= {w.lower() for item in asked + other for w in item.split()}
    return words | {thing for _, _, thing in SENTIMENT}
