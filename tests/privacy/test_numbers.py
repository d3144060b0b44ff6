"""Numbers in page text, by default: those that identify people are masked, prices, quantities,
dates and times stay readable (docs/privacy.md, "Numbers"). A held list of real-looking
strings, each with what a recording keeps of it, checked in the server's masks and in the
browser's (the TypeScript run in Node): both must say exactly this."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from footage.privacy import masking
from footage.privacy.masking import MaskRules, mask_text, mask_value
from tests.node import bundle_for_node

DEFAULT = MaskRules()
HELD = [
    # Kept: what owners want to see.
    ("€1,299.99", "€1,299.99"),
    ("1 299,00 Kč", "1 299,00 Kč"),
    ("$12.50 / month", "$12.50 / month"),
    ("Cart (3)", "Cart (3)"),
    ("Order 4711 shipped", "Order 4711 shipped"),
    ("2 of 12 left", "2 of 12 left"),
    ("Posted 2026-12-03 22:47 UTC", "Posted 2026-12-03 22:47 UTC"),
    ("Delivery 03.12.2026 or 4/1/27", "Delivery 03.12.2026 or 4/1/27"),
    ("Splatnost 3. 12. 2026", "Splatnost 3. 12. 2026"),
    ("Open 9:00–17:30", "Open 9:00–17:30"),
    ("v2.1.7 · 4.8 ★ (1,203 reviews)", "v2.1.7 · 4.8 ★ (1,203 reviews)"),
    ("Size 42, 500 ml, 30% off", "Size 42, 500 ml, 30% off"),
    ("PSČ 110 00", "PSČ 110 00"),
    ("Ref 12 3456", "Ref 12 3456"),  # six digits: not yet a personal number
    ("+1 2345", "+1 2345"),  # five after '+': not yet international
    # Masked: what identifies people.
    ("Call +420 601 234 567", "Call +*** *** *** ***"),
    ("Tel. (555) 123-4567", "Tel. (***) ***-****"),
    ("Phone 0176 1234567", "Phone **** *******"),
    ("Card 4111 1111 1111 1111", "Card **** **** **** ****"),
    ("4111-1111-1111-1111 exp 12/28", "****-****-****-**** exp 12/28"),
    ("SSN 123-45-6789", "SSN ***-**-****"),
    ("Rodné číslo 850101/1234", "Rodné číslo ******/****"),
    ("IBAN CZ65 0800 0000 1920 0014 5399", "IBAN CZ** **** **** **** **** ****"),
    ("Account 19-2000145399/0800", "Account **-**********/****"),
    ("Customer no. 10293847", "Customer no. ********"),
    ("+44 20 7946 0958", "+** ** **** ****"),
    ("+33 612345", "+** ******"),
    ("+12 3456", "+** ****"),  # six after '+': the fewest masked
    ("Ref 123 4567", "Ref *** ****"),  # seven
    ("٠١٢٣٤٥٦٧٨", "*********"),
]


@pytest.mark.parametrize(("text", "kept"), HELD)
def test_the_server_masks_the_numbers_that_identify_people(text: str, kept: str) -> None:
    assert mask_text(text, DEFAULT) == kept


def test_typed_digits_and_mask_all_numbers_mask_every_digit() -> None:
    typed = MaskRules(forms=True)
    assert mask_value("Order 4711, €12.50", typed, False) == "Order ****, €**.**"
    assert mask_text("€1,299.99 on 2026-12-03", MaskRules(all_numbers=True)) == (
        "€*,***.** on ****-**-**"
    )
    assert mask_text("+420 601 234 567", MaskRules(numbers=True)) == "+420 601 234 567"


def test_a_long_text_masks_as_in_one_piece() -> None:
    # Cut where no number can be: the same result across the slices a long text is cut into.
    text = ("word 601 234 567 €12.50 2026-12-03 " * 5000) + "1234 " * 20000 + "end"
    masked = mask_text(text, DEFAULT)
    assert len(masked) == len(text)
    assert masked.count("*** *** ***") == 5000 and masked.count("€12.50") == 5000
    assert masked.endswith("**** **** end")  # one long run of 80,000 digits


# Runs of digits (ASCII and of other scripts) between the separators numbers, dates and times
# hold, and words: phone numbers, prices, dates and times of every shape come up.
NUMBER_TEXT = st.lists(
    st.one_of(
        st.text(alphabet="0123456789", min_size=1, max_size=5),
        st.text(alphabet="٠١٢٣४५६", min_size=1, max_size=4),
        st.sampled_from([" ", "-", ".", "/", ":", "(", ")", "+", ", ", ". ", "€", "Kč", "a"]),
        st.sampled_from(["2026-12-03", "03.12.2026", "3. 12. 2026", "4/1/27", "22:47", "9:00:15"]),
    ),
    max_size=14,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(NUMBER_TEXT)
def test_the_quick_ways_mask_as_the_whole_expression(text: str) -> None:
    # ASCII text goes through the same expression over 0-9 only, and a text without a digit is
    # not searched at all: both must give what the expression over every decimal digit gives.
    assert masking.mask_personal_numbers(text) == masking._NUMBER.sub(masking._mask_number, text)


def test_a_text_without_digits_is_given_back_as_it_is() -> None:
    text = "Linen lamp, walnut tray – ceramic mug"
    assert masking.mask_personal_numbers(text) is text
    assert masking.mask_personal_numbers(text + " 601 234 567") == text + " *** *** ***"


def test_the_browser_masks_the_same(tmp_path: Path) -> None:
    node, bundle = bundle_for_node("masking.ts", tmp_path)
    runner = tmp_path / "run.cjs"
    runner.write_text(
        f"const m = require({json.dumps(str(bundle))});\n"
        "const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));\n"
        "const rules = { forms: false, numbers: false, emails: true };\n"
        "process.stdout.write(JSON.stringify(texts.map((t) => m.maskText(t, rules))));\n"
    )
    texts = [text for text, _ in HELD]
    done = subprocess.run(
        [node, str(runner)], input=json.dumps(texts), capture_output=True, text=True, check=True
    )
    assert json.loads(done.stdout) == [kept for _, kept in HELD]
