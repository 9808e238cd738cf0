"""Texts mapped to what Moodle keeps unchanged, checked against the fake's own model of
Moodle's cleaning (``fake_cleaning``, written from Moodle's and PHP's sources)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from comp_adapters.moodle.mapping import rating_note
from comp_adapters.moodle.text import (
    FORMAT_HTML,
    FORMAT_MARKDOWN,
    FORMAT_MOODLE,
    FORMAT_PLAIN,
    moodle_description,
    moodle_name,
    note_text,
    purify_necessary,
    survives_strip_tags,
)
from tests.moodle.fake_cleaning import (
    clean_html_param,
    clean_text_param,
    is_purify_html_necessary,
    php_strip_tags,
)

# Text with the characters real frameworks bring: entities, tags, comparisons, breaks.
PIECES = st.sampled_from(
    [
        "a",
        "R&D",
        "&amp;",
        "&quot;",
        "&eacute;",
        " < ",
        "<",
        ">",
        "a<b",
        "<p>",
        "</p>",
        "<br>",
        "<br />",
        "<sup>2</sup>",
        "<sub>n</sub>",
        "<em>x</em>",
        "<b>",
        "<li>",
        "</ul>",
        "<ul>",
        "\n",
        "\r\n",
        "  ",
        '"q"',
        "'",
        "é",
        "x²",
        "1",
    ]
)
TEXTS = st.lists(PIECES, max_size=12).map("".join)


@pytest.mark.parametrize(
    ("title", "sent", "changes"),
    [
        ("Q&A handling", "Q&A handling", ()),  # recording 40: a bare & is accepted
        ("a < b", "a < b", ()),
        ("x<sup>2</sup>", "x²", ("tags",)),  # recording 39: tags are refused
        ("a<sub>n</sub>+b<sup>n+1</sup>", "aₙ+bⁿ⁺¹", ("tags",)),
        ("x<sup>q</sup>", "x^q", ("tags",)),  # no superscript q in Unicode
        ("y<sup>q+1</sup>", "y^(q+1)", ("tags",)),
        ("Understand <em>place value</em>", "Understand place value", ("tags",)),
        ("<span class='x'>A</span> &amp; B", "A & B", ("tags",)),
        ("Compare a<b and b>a", "Compare a&lt;b and b>a", ("less-than",)),
        ("ends with <", "ends with &lt;", ("less-than",)),
        ("nul\0here", "nulhere", ("invisible",)),
    ],
)
def test_titles_become_short_names_moodle_keeps(
    title: str, sent: str, changes: tuple[str, ...]
) -> None:
    mapped = moodle_name(title)
    assert (mapped.text, mapped.changes) == (sent, changes)
    assert clean_text_param(mapped.text) == mapped.text


def test_long_titles_are_cut_without_leaving_half_an_entity() -> None:
    mapped = moodle_name("a" * 95 + "<b" + "c" * 20)
    assert len(mapped.text) <= 100
    assert mapped.text.endswith("...")
    assert "&l..." not in mapped.text
    assert mapped.changes == ("less-than", "cut")


@given(TEXTS)
@settings(max_examples=400, deadline=None)
def test_any_title_maps_to_a_short_name_moodle_keeps(title: str) -> None:
    mapped = moodle_name(title).text
    assert clean_text_param(mapped) == mapped


@given(TEXTS)
@settings(max_examples=400, deadline=None)
def test_the_strip_tags_check_agrees_with_phps_strip_tags(text: str) -> None:
    assert survives_strip_tags(text) == (php_strip_tags(text) == text)


@given(TEXTS)
@settings(max_examples=400, deadline=None)
def test_purify_check_agrees_with_moodles(text: str) -> None:
    assert purify_necessary(text) == is_purify_html_necessary(text)


@pytest.mark.parametrize(
    ("text", "code", "sent", "sent_code"),
    [
        ("plain text", FORMAT_PLAIN, "plain text", FORMAT_PLAIN),  # recording 41
        ("R&D teams", FORMAT_PLAIN, "R&amp;D teams", FORMAT_HTML),  # 36 refused, 38 kept
        ("a < b", FORMAT_PLAIN, "a &lt; b", FORMAT_HTML),  # 37 refused
        ("one\r\ntwo & three", FORMAT_PLAIN, "one<br />\ntwo &amp; three", FORMAT_HTML),
        ("auto & format", FORMAT_MOODLE, "auto &amp; format", FORMAT_HTML),
        ("  padded  \n", FORMAT_PLAIN, "padded", FORMAT_PLAIN),
        ("<p>x</p>", FORMAT_HTML, "<p>x</p>", FORMAT_HTML),
        ("R&D", FORMAT_HTML, "R&amp;D", FORMAT_HTML),
        ("<p>a &quot;b&quot;</p>", FORMAT_HTML, '<p>a "b"</p>', FORMAT_HTML),
        ("<P CLASS=x>A<br>b</P>", FORMAT_HTML, '<p class="x">A<br />b</p>', FORMAT_HTML),
        ("<ul><li>a<li>b</ul>", FORMAT_HTML, "<ul><li>a</li><li>b</li></ul>", FORMAT_HTML),
        ("<p>a<div>b</div>", FORMAT_HTML, "<p>a</p><div>b</div>", FORMAT_HTML),
        ("<b>x</i>y</b><!-- c -->", FORMAT_HTML, "<b>xy</b>", FORMAT_HTML),
        ('<img src="a/b.png">', FORMAT_HTML, '<img src="a/b.png" alt="b.png" />', FORMAT_HTML),
        ("a & b < c > d", FORMAT_MARKDOWN, "a &amp; b &lt; c &gt; d", FORMAT_MARKDOWN),
        ("*x* &amp; y", FORMAT_MARKDOWN, "*x* &amp; y", FORMAT_MARKDOWN),
    ],
)
def test_descriptions_become_text_moodle_keeps(
    text: str, code: int, sent: str, sent_code: int
) -> None:
    mapped = moodle_description(text, code)
    assert mapped.problems == ()
    assert (mapped.text, mapped.format) == (sent, sent_code)
    assert clean_html_param(mapped.text) == mapped.text


@pytest.mark.parametrize(
    ("text", "code", "why"),
    [
        ("<script>alert(1)</script>", FORMAT_HTML, "<script> is removed"),
        ('<p onclick="x()">a</p>', FORMAT_HTML, "attribute 'onclick'"),
        ('<a href="javascript:x()">a</a>', FORMAT_HTML, "would be rewritten"),
        ("<section>a</section>", FORMAT_HTML, "<section> is removed"),
        ("a & b\n> quoted", FORMAT_MARKDOWN, "quote block"),
    ],
)
def test_descriptions_moodle_would_change_are_refused(text: str, code: int, why: str) -> None:
    mapped = moodle_description(text, code)
    assert any(why in problem for problem in mapped.problems), mapped.problems


@given(TEXTS, st.sampled_from([FORMAT_PLAIN, FORMAT_HTML, FORMAT_MARKDOWN, FORMAT_MOODLE]))
@settings(max_examples=600, deadline=None)
def test_any_description_maps_to_text_moodle_keeps_or_is_refused(text: str, code: int) -> None:
    mapped = moodle_description(text, code)
    if not mapped.problems:
        assert clean_html_param(mapped.text) == mapped.text, mapped


@given(TEXTS)
@settings(max_examples=300, deadline=None)
def test_plain_text_is_never_refused(text: str) -> None:
    assert moodle_description(text, FORMAT_PLAIN).problems == ()


@given(TEXTS)
@settings(max_examples=300, deadline=None)
def test_grading_notes_survive_param_notags(text: str) -> None:
    note = note_text(text)
    assert clean_text_param(note) == note


@given(st.lists(st.sampled_from(["a", "<", "b>", " ", "<b>", "x"]), max_size=400).map("".join))
@settings(max_examples=200, deadline=None)
def test_rating_notes_survive_param_notags_even_when_cut(explanation: str) -> None:
    note = rating_note(explanation, limit=50)
    assert clean_text_param(note) == note
