"""Patient records and ward handover summaries whose every span has a known source.

Used by the corpus (training documents) and by notebook 04 (scoring the LDA monitor):

    ex = make_handover_example(seed)          # dict: record, messages, summary, segments
    labels = label_tokens(tokenizer, ex["record"], generated_summary)   # one label per token

A summary copies fields verbatim from the record ("record") and adds remembered facts about
drugs and conditions plus connecting words ("memory"), e.g.
"Lisinopril" (record) + " is an ACE inhibitor for blood pressure." (memory).
"""
from __future__ import annotations

import random
import zlib

from course_model.course_tables import HANDOVER_REQUEST, HANDOVER_SYSTEM

FIRST = ["John", "Mary", "Peter", "Anna", "David", "Sarah", "James", "Laura", "Thomas", "Emma",
         "Robert", "Julia", "Michael", "Grace", "Daniel", "Helen", "Paul", "Alice", "Mark",
         "Clara", "George", "Nina", "Frank", "Rosa", "Henry", "Lucy", "Oscar", "Vera"]
LAST = ["Smith", "Jones", "Brown", "Miller", "Wilson", "Taylor", "Clark", "Walker", "Young",
        "King", "Wright", "Green", "Baker", "Hill", "Adams", "Nelson", "Carter", "Evans",
        "Turner", "Parker", "Collins", "Morris", "Reed", "Cook", "Bell", "Ward", "Hughes"]
COMPLAINTS = {  # complaint -> a remembered fact for the plan
    "Chest pain, shortness of breath": "Chest pain with breathlessness needs an ECG to rule out a heart attack.",
    "Severe headache, blurred vision": "A sudden severe headache needs urgent brain imaging.",
    "Fever, productive cough": "Fever with cough suggests pneumonia; a chest X-ray is needed.",
    "Abdominal pain, vomiting": "Abdominal pain with vomiting needs fluids and a surgical review.",
    "Dizziness, palpitations": "Palpitations need heart rhythm monitoring.",
    "Swollen leg, calf pain": "A swollen calf can be a blood clot; a scan is needed.",
    "Wheezing, shortness of breath": "Wheezing usually responds to an inhaler.",
    "Confusion, weakness on one side": "Sudden one-sided weakness is a stroke until proven otherwise.",
    "Back pain, fever": "Back pain with fever can signal a kidney infection.",
    "Fall at home, hip pain": "Hip pain after a fall needs an X-ray for a fracture.",
}
CONDITIONS = {  # condition -> remembered fact
    "Hypertension": "Hypertension raises the risk of heart attack and stroke.",
    "Type 2 diabetes": "Type 2 diabetes needs regular blood sugar checks.",
    "Asthma": "Asthma narrows the airways.",
    "Atrial fibrillation": "Atrial fibrillation raises the risk of stroke.",
    "Heart failure": "Heart failure causes fluid to build up in the body.",
    "COPD": "COPD is a chronic lung disease that limits breathing.",
    "Chronic kidney disease": "Chronic kidney disease affects which drugs are safe.",
    "Hypothyroidism": "Hypothyroidism slows the metabolism.",
    "Epilepsy": "Epilepsy causes recurrent seizures.",
}
DRUGS = {  # drug -> (typical doses, remembered fact without the drug's name)
    "Lisinopril": (["5mg", "10mg", "20mg"], " is an ACE inhibitor for blood pressure."),
    "Metformin": (["500mg", "850mg", "1000mg"], " is a first-line drug for type 2 diabetes."),
    "Atorvastatin": (["10mg", "20mg", "40mg"], " is a statin that lowers cholesterol."),
    "Amlodipine": (["5mg", "10mg"], " is a calcium channel blocker for blood pressure."),
    "Salbutamol": (["100mcg", "200mcg"], " is an inhaler that opens the airways."),
    "Warfarin": (["3mg", "5mg"], " is a blood thinner that prevents clots."),
    "Omeprazole": (["20mg", "40mg"], " reduces stomach acid."),
    "Levothyroxine": (["50mcg", "100mcg"], " replaces thyroid hormone."),
    "Furosemide": (["20mg", "40mg"], " is a diuretic that removes excess fluid."),
    "Bisoprolol": (["2.5mg", "5mg"], " is a beta blocker that slows the heart."),
    "Aspirin": (["75mg", "300mg"], " is an antiplatelet drug that thins the blood."),
}
FREQ = ["daily", "twice daily", "at night", "in the morning"]
LABS = ["Pending", "Normal", "Troponin raised", "Glucose {g}.{d} mmol/L", "CRP {n} mg/L",
        "Hemoglobin {g}.{d} g/dL", "Potassium {k}.{d} mmol/L", "White cells {g}.{d}"]
EXAMS = ["Mild chest discomfort on palpation", "Crackles at both lung bases",
         "Tender right lower abdomen", "Soft abdomen, no tenderness", "Wheeze on both sides",
         "Swollen left calf", "Weak left arm and leg", "Alert and oriented",
         "Irregular pulse", "Bruising over the right hip"]
REPORTS = ["Pain started {h} hours ago, radiating to left arm", "Symptoms began {h} days ago",
           "Vomited {n} times since morning", "Felt unwell for {h} days",
           "Fell while getting out of bed", "Headache worse when lying down",
           "Cough for {h} days, worse at night", "Pain started {h} hours ago after lifting"]


def _heldout(key: str) -> bool:
    return zlib.crc32(key.encode()) % 6 == 0


def make_record(rng: random.Random, split: str = "train") -> tuple[str, dict]:
    """A record in exactly the format of the course's patient record, and its fields."""
    while True:
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        if _heldout("pt:" + name) == (split == "eval") and name != "John Smith":
            break
    cond = rng.choice(list(CONDITIONS))
    hist = f"{cond} (diagnosed {rng.randint(1990, 2024)})"
    if rng.random() < 0.6:
        hist += f", smoker ({rng.randint(1, 50)} years)"
    drug = rng.choice(list(DRUGS))
    med = f"{drug} {rng.choice(DRUGS[drug][0])} {rng.choice(FREQ)}"
    temp = f"{rng.randint(96, 103)}.{rng.randint(0, 9)}F"
    vitals = f"BP {rng.randint(90, 190)}/{rng.randint(50, 115)}, HR {rng.randint(45, 140)}, Temp {temp}"
    fill = dict(g=rng.randint(4, 15), d=rng.randint(0, 9), n=rng.randint(2, 250),
                k=rng.randint(3, 6), h=rng.randint(2, 12))
    f = {"name": name, "age": str(rng.randint(18, 95)), "complaint": rng.choice(list(COMPLAINTS)),
         "condition": cond, "history": hist, "drug": drug, "medication": med, "vitals": vitals,
         "labs": rng.choice(LABS).format(**fill), "exam": rng.choice(EXAMS),
         "reports": rng.choice(REPORTS).format(**fill)}
    record = (f"PATIENT RECORD - {f['name']}, Age {f['age']}\n"
              f"Chief Complaint: {f['complaint']}\n"
              f"History: {f['history']}\n"
              f"Current Medications: {f['medication']}\n"
              f"Vitals: {f['vitals']}\n"
              f"Lab Results: {f['labs']}\n"
              f"Physical Exam: {f['exam']}\n"
              f"Patient Reports: {f['reports']}")
    return record, f


def parse_record(record: str) -> dict:
    """Fields of a record in the PATIENT_RECORD format (for the course's own record too)."""
    lines = record.split("\n")
    head = lines[0].split(" - ", 1)[1]
    name, age = head.rsplit(", Age ", 1)
    f = {"name": name, "age": age}
    keys = {"Chief Complaint": "complaint", "History": "history",
            "Current Medications": "medication", "Vitals": "vitals", "Lab Results": "labs",
            "Physical Exam": "exam", "Patient Reports": "reports"}
    for line in lines[1:]:
        k, v = line.split(": ", 1)
        f[keys.get(k, k)] = v
    f["drug"] = f["medication"].split(" ")[0]
    f["condition"] = f["history"].split(" (")[0]
    return f


def summary_segments(f: dict) -> list[tuple[str, str]]:
    """The summary as (text, source) spans; record spans are verbatim record substrings."""
    R, M = "record", "memory"
    segs = [(f["name"], R), (", ", M), (f["age"], R), (", admitted with ", M),
            (f["complaint"], R), (". Background: ", M), (f["history"], R), (". ", M)]
    if f["condition"] in CONDITIONS:
        cfact = CONDITIONS[f["condition"]]
        segs += [(f["condition"], R), (cfact[len(f["condition"]):], M)]
    segs += [(" Takes ", M), (f["medication"], R), (". ", M)]
    if f["drug"] in DRUGS:
        segs += [(f["drug"], R), (DRUGS[f["drug"]][1], M)]
    segs += [(" Obs: ", M), (f["vitals"], R), (". Bloods: ", M), (f["labs"], R),
             (". On exam: ", M), (f["exam"], R), (". States: ", M), (f["reports"], R), (".", M)]
    if f["complaint"] in COMPLAINTS:
        segs += [(" Plan: ", M), (COMPLAINTS[f["complaint"]], M)]
    return segs


def handover_messages(record: str) -> list[dict]:
    """Chat messages asking for a handover summary of `record`, in the course's layout."""
    return [{"role": "system", "content": HANDOVER_SYSTEM},
            {"role": "user", "content": f"{record}\n\n{HANDOVER_REQUEST}"}]


def make_handover_example(seed: int, split: str = "train") -> dict:
    """A random record and its reference handover summary.

    Returns dict(record=str, messages=list of chat dicts (system, user) as in
    `handover_messages`, summary=str, segments=list of (text, source) with source
    in {"record", "memory"} whose texts concatenate to summary, fields=dict of record fields).
    `split="eval"` draws patient names never used in training.
    """
    rng = random.Random(f"handover-{split}-{seed}")
    record, fields = make_record(rng, split)
    segs = summary_segments(fields)
    return {"record": record, "messages": handover_messages(record),
            "summary": "".join(t for t, _ in segs), "segments": segs, "fields": fields}


def render_chat(messages: list[dict], reply: str | None = None) -> str:
    """The chat template as text, without the leading BOS (the packer adds it); must match
    the tokenizer's Jinja chat_template (course_model.tokenizer.CHAT_TEMPLATE)."""
    out = "".join(f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content'].strip()}<|eot_id|>"
                  for m in messages)
    out += "<|start_header_id|>assistant<|end_header_id|>\n\n"
    if reply is not None:
        out += reply.strip() + "<|eot_id|>"
    return out


def _qualifies(span: str) -> bool:
    s = span.strip()
    return any(c.isdigit() for c in s) or sum(c.isalnum() for c in s) >= 4


def record_char_mask(record: str, text: str) -> list[bool]:
    """True for each character of `text` inside a copied span.

    Rule: scan left to right; at each position take the longest substring of `text` that
    occurs verbatim in `record`; it counts as copied if it holds a digit or at least 4 letters
    or digits (so "the", "." or ", " alone never count); then continue after it, else move on
    by one character."""
    mask = [False] * len(text)
    i = 0
    while i < len(text):
        L = 0
        while i + L < len(text) and text[i:i + L + 1] in record:
            L += 1
        if L and _qualifies(text[i:i + L]):
            for j in range(i, i + L):
                mask[j] = True
            i += L
        else:
            i += 1
    return mask


def label_tokens(tokenizer, record: str, summary_text) -> list[str]:
    """One source label per token of a (possibly generated) summary: "record" or "memory".

    `summary_text` is a str (tokenised with add_special_tokens=False; labels align with those
    ids) or a list of token ids (e.g. the generated ids; special tokens get "memory").
    A token is "record" when most of its non-space characters lie in a copied span (see
    `record_char_mask`); whitespace-only tokens follow the character mask; all else "memory".
    """
    if isinstance(summary_text, str):
        ids = tokenizer(summary_text, add_special_tokens=False)["input_ids"]
    else:
        ids = list(summary_text)
    pieces = [tokenizer.decode([i], skip_special_tokens=True) for i in ids]
    text = "".join(pieces)
    mask = record_char_mask(record, text)
    labels, pos = [], 0
    for piece in pieces:
        m = mask[pos:pos + len(piece)]
        chars = [c for c in piece]
        core = [mm for c, mm in zip(chars, m) if not c.isspace()] or m
        labels.append("record" if core and sum(core) * 2 > len(core) else "memory")
        pos += len(piece)
    return labels


def fields_copied(fields: dict, generated: str) -> tuple[int, int]:
    """(fields found verbatim in `generated`, fields checked) for handover_copy."""
    keys = ["name", "age", "complaint", "history", "medication", "vitals", "labs", "exam",
            "reports"]
    return sum(fields[k] in generated for k in keys), len(keys)


def provenance(seed: int, split: str = "train") -> tuple[str, str, list[tuple[int, int, str]]]:
    """(record_text, summary_text, spans) of one generated example: spans are
    (start_char, end_char, "record" | "memory") over summary_text, in order, covering it
    exactly; every "record" span is a verbatim substring of the record, and the "memory"
    spans hold remembered facts about drugs, conditions and the plan beyond the record."""
    ex = make_handover_example(seed, split)
    spans, pos = [], 0
    for text, source in ex["segments"]:
        spans.append((pos, pos + len(text), source))
        pos += len(text)
    return ex["record"], ex["summary"], spans
