"""Enrichment rules end to end on the shipped ascolto/defaults/intents.yaml.

The Enricher (language models: ~1 s) is built once for the module.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from streams.rules.enrich import DEFAULT_CONFIG_PATH, Enricher, Enrichment, load_rules
from streams.rules.intent import INTENTS
from streams.rules.priority import UNMEASURED, visibility

# Real-looking customer messages: (text, intent under the shipped rules).
EN_TWEETS = [
    (
        "@AcmeSupport my package still hasn't arrived, it's been 2 weeks. Tracking hasn't moved "
        "since Monday",
        "delivery",
    ),
    ("Why was I charged twice this month?? Order 55123", "billing"),
    ("thanks for the quick help today, Sarah was great!", "praise"),
    ("is anyone else's app down right now? can't load anything", "outage"),
    ("How do I cancel my subscription? Can't find the option anywhere", "cancellation"),
    ("Love the new update 😍 dark mode finally!", "praise"),
    (
        "Hi, I can't log into my account since yesterday. Can you reset my password please?",
        "account",
    ),
    ("worst customer service ever. 3 hours on hold and nobody picked up", "complaint"),
    ("@AcmeSupport still waiting for my refund, it's been a month", "billing"),
    ("Your website keeps crashing when I try to check out", "outage"),
    ("Delivery driver left my parcel in the rain. Everything is soaked.", "delivery"),
    ("I was billed for a plan I never signed up for. Please explain.", "billing"),
    ("Where is my order? It says delivered but it's not here", "delivery"),
    ("Please close my account and delete my data", "cancellation"),
    ("can you tell me what time the store opens on sunday", "question"),
    ("Honestly disappointed. The replacement is broken too.", "complaint"),
    ("Just wanted to say your team is amazing, problem solved in 5 minutes", "praise"),
    ("Outage in Milan? Nothing is working since 9am", "outage"),
]
IT_TWEETS = [
    (
        "@AcmeSupport il mio pacco non è ancora arrivato, sono passate due settimane. Il tracking "
        "è fermo da lunedì",
        "delivery",
    ),
    ("Perché mi avete addebitato due volte questo mese?? Ordine 55123", "billing"),
    ("grazie mille per l'aiuto di oggi, Giulia è stata gentilissima!", "praise"),
    ("anche a voi l'app non funziona? non carica niente", "outage"),
    ("Come faccio a disdire l'abbonamento? Non trovo l'opzione da nessuna parte", "cancellation"),
    ("Adoro il nuovo aggiornamento 😍 finalmente la modalità scura!", "praise"),
    (
        "Buongiorno, non riesco ad accedere al mio account da ieri. "
        "Potete reimpostare la password?",
        "account",
    ),
    ("servizio clienti pessimo. tre ore in attesa e nessuno ha risposto", "complaint"),
    ("@AcmeSupport sto ancora aspettando il rimborso, è passato un mese", "billing"),
    ("Il vostro sito continua a bloccarsi quando provo a pagare", "outage"),
    ("Il corriere ha lasciato il pacco sotto la pioggia. È tutto bagnato.", "delivery"),
    ("Mi avete fatturato un piano che non ho mai sottoscritto. Mi spiegate?", "billing"),
    ("Dov'è il mio ordine? Risulta consegnato ma non è qui", "delivery"),
    ("Vi chiedo di chiudere il mio account e cancellare i miei dati", "cancellation"),
    ("mi sapete dire a che ora apre il negozio la domenica", "question"),
    ("Sinceramente deluso. Anche il prodotto sostitutivo è rotto.", "complaint"),
    ("Volevo solo dire che il vostro team è fantastico, problema risolto in 5 minuti", "praise"),
    ("Disservizio a Milano? Non funziona niente dalle 9", "outage"),
]
EN_EMAIL = """Hello,

I placed order #88213 on the 3rd of March and paid for express delivery. The tracking page has \
said "in transit" for nine days now and the courier's phone line just plays a recorded message. \
I need these parts for a job next week.

Could you please tell me where the parcel actually is, and if it is lost, send a replacement or \
refund the shipping cost?

Thanks,
Mark Reynolds"""
IT_EMAIL = """Buongiorno,

ho effettuato l'ordine n. 88213 il 3 marzo pagando la spedizione espressa. Da nove giorni la \
pagina di tracciamento indica "in transito" e il numero del corriere risponde solo con un \
messaggio registrato. Mi servono questi pezzi per un lavoro la prossima settimana.

Potreste dirmi dove si trova il pacco e, se è andato perso, inviarne uno nuovo o rimborsare le \
spese di spedizione?

Grazie,
Marco Rinaldi"""


@pytest.fixture(scope="module")
def enricher() -> Enricher:
    return Enricher.from_file(DEFAULT_CONFIG_PATH)


def contact(body: str, *, direction: str = "inbound", channel: str = "social", **extra: Any):
    return {"channel": channel, "direction": direction, "body": body, **extra}


# -- language -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [t for t, _ in EN_TWEETS] + [EN_EMAIL])
def test_english_is_detected(enricher: Enricher, text: str) -> None:
    assert enricher.enrich(contact(text))["language"] == "en"


@pytest.mark.parametrize("text", [t for t, _ in IT_TWEETS] + [IT_EMAIL])
def test_italian_is_detected(enricher: Enricher, text: str) -> None:
    assert enricher.enrich(contact(text))["language"] == "it"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("Mi pedido todavía no ha llegado, ¿pueden ayudarme?", "es"),
        ("Ma commande n'est toujours pas arrivée, pouvez-vous m'aider ?", "fr"),
        ("Meine Bestellung ist immer noch nicht angekommen, können Sie helfen?", "de"),
        ("Minha encomenda ainda não chegou, podem me ajudar?", "pt"),
        ("Mijn bestelling is nog steeds niet aangekomen, kunnen jullie helpen?", "nl"),
        ("Thanks", "en"),
        ("Grazie!", "it"),
        ("ok thanks", "en"),
        ("ok grazie", "it"),
    ],
)
def test_other_languages_and_short_texts(enricher: Enricher, text: str, code: str) -> None:
    assert enricher.enrich(contact(text))["language"] == code


@pytest.mark.parametrize(
    "text",
    [
        "😡😡😡",
        "👍",
        "!!!",
        "",
        "ok",
        "k",
        "@AcmeSupport",
        "@AcmeSupport 😡",
        "Hello",
        "https://t.co/x1Yz",
        "12345",
    ],
)
def test_undeterminable_is_und(enricher: Enricher, text: str) -> None:
    assert enricher.enrich(contact(text))["language"] == "und"


@pytest.mark.parametrize(
    ("given", "kept"), [("it", "it"), ("EN", "en"), ("en-GB", "en"), ("pt_BR", "pt")]
)
def test_language_given_by_the_source_is_kept(enricher: Enricher, given: str, kept: str) -> None:
    # The text is English: the source's word wins, normalised to ISO 639-1.
    assert enricher.enrich(contact("where is my order", language=given))["language"] == kept


def test_language_not_iso_639_1_is_detected_instead(enricher: Enricher) -> None:
    assert enricher.enrich(contact("where is my order", language="english"))["language"] == "en"


# -- sentiment ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("worst customer service ever. 3 hours on hold and nobody picked up", "negative"),
        ("This is so frustrating, I hate this app", "negative"),
        ("thanks for the quick help today, Sarah was great!", "positive"),
        ("Love the new update, dark mode finally!", "positive"),
        ("I placed the order on Monday", "neutral"),
        ("The store opens at nine on weekdays", "neutral"),
    ],
)
def test_english_sentiment_labels(enricher: Enricher, text: str, label: str) -> None:
    e = enricher.enrich(contact(text))
    assert (e["sentiment_label"], e["sentiment_supported"]) == (label, True)
    assert -1.0 <= e["sentiment_score"] <= 1.0
    if label == "positive":
        assert e["sentiment_score"] >= 0.05
    elif label == "negative":
        assert e["sentiment_score"] <= -0.05


@pytest.mark.parametrize(
    "text", ["servizio clienti pessimo, che vergogna", "grazie mille, siete fantastici!"]
)
def test_italian_sentiment_is_not_measured(enricher: Enricher, text: str) -> None:
    e = enricher.enrich(contact(text))
    assert e["language"] == "it"
    assert (e["sentiment_score"], e["sentiment_label"], e["sentiment_supported"]) == (
        0.0,
        "neutral",
        False,
    )


def test_emoji_only_is_scored_by_vader(enricher: Enricher) -> None:
    e = enricher.enrich(contact("😍😍"))
    assert (e["language"], e["sentiment_supported"], e["sentiment_label"]) == (
        "und",
        True,
        "positive",
    )


# -- intent ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "intent"), EN_TWEETS + IT_TWEETS)
def test_intents_of_real_looking_tweets(enricher: Enricher, text: str, intent: str) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


def test_intents_of_emails(enricher: Enricher) -> None:
    # Both mention a refund too: delivery is listed above billing.
    for body, subject in ((EN_EMAIL, "Order 88213 not delivered"), (IT_EMAIL, "Ordine 88213")):
        e = enricher.enrich(contact(body, channel="email", subject=subject))
        assert e["intent"] == "delivery"
        assert e["visibility"] == "private"


# One short message per intent and language, so that each rule is seen to fire.
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("please cancel my subscription", "cancellation"),
        ("vorrei disdire il contratto", "cancellation"),
        ("vorrei annullare il mio ordine", "cancellation"),
        ("the site is down again", "outage"),
        ("il sito è down di nuovo", "outage"),
        ("my parcel never arrived", "delivery"),
        ("il pacco non è mai arrivato", "delivery"),
        ("I need a copy of my invoice", "billing"),
        ("mi serve una copia della fattura", "billing"),
        ("I forgot my password", "account"),
        ("ho dimenticato la password", "account"),
        ("this is unacceptable", "complaint"),
        ("è inaccettabile", "complaint"),
        ("is there a store in Rome", "question"),
        ("c'è un negozio a Roma?", "question"),
        ("well done, kudos to the team", "praise"),
        ("complimenti al team", "praise"),
        ("my name is Anna", "other"),
        ("mi chiamo Anna", "other"),
    ],
)
def test_each_intent_fires_in_english_and_italian(
    enricher: Enricher, text: str, intent: str
) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        # cancellation is listed above billing
        ("cancel my subscription, billing is wrong", "cancellation"),
        ("billing is wrong, cancel my subscription", "cancellation"),
        ("voglio disdire l'abbonamento, la fattura è sbagliata", "cancellation"),
        # outage above billing: the payment page crashing is an outage
        ("the payment page keeps crashing", "outage"),
        # delivery above billing
        ("My parcel never arrived, I want a refund", "delivery"),
        # billing above complaint, even when the words are angry
        ("I was charged twice, this is unacceptable", "billing"),
        # complaint above question
        ("why is your service so terrible?", "complaint"),
    ],
)
def test_precedence_order(enricher: Enricher, text: str, intent: str) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


def test_precedence_follows_the_order_in_the_file(enricher: Enricher, tmp_path) -> None:
    import yaml

    raw = yaml.safe_load(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))
    by_name = {e["name"]: e for e in raw["intents"]}
    raw["intents"] = [by_name["billing"]] + [e for e in raw["intents"] if e["name"] != "billing"]
    path = tmp_path / "intents.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    billing_first = Enricher(load_rules(path), detector=enricher.detector, scorer=enricher.scorer)
    text = "cancel my subscription, billing is wrong"
    assert billing_first.enrich(contact(text))["intent"] == "billing"
    assert enricher.enrich(contact(text))["intent"] == "cancellation"


def test_negative_sentiment_makes_a_complaint_only_when_nothing_more_specific(
    enricher: Enricher,
) -> None:
    frustrated = enricher.enrich(contact("This is so frustrating."))
    assert (frustrated["sentiment_label"], frustrated["intent"]) == ("negative", "complaint")
    # only the question rule matches, and the sentiment is negative: complaint
    assert enricher.enrich(contact("Are you serious? This is so frustrating."))["intent"] == (
        "complaint"
    )
    # negative, but billing is listed above complaint
    charged = enricher.enrich(contact("Why was I charged twice this month??"))
    assert (charged["sentiment_label"], charged["intent"]) == ("negative", "billing")
    # Italian sentiment is not measured: only the complaint keywords count
    assert enricher.enrich(contact("Sono furioso con voi"))["intent"] == "other"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("dov’è il mio ordine", "delivery"),  # typographic apostrophe
        ("perche non e arrivato il pacco", "delivery"),  # no accents
        ("NON FUNZIONA NIENTE", "outage"),  # capitals
        ("the app is\nnot\n working", "outage"),  # line breaks inside a phrase
        ("I bought a new charger", "other"),  # whole words: "charged" is not "charger"
        ("see https://acme.example/help?topic=billing", "other"),  # links are ignored
    ],
)
def test_matching_ignores_case_accents_spacing_and_links(
    enricher: Enricher, text: str, intent: str
) -> None:
    assert enricher.enrich(contact(text))["intent"] == intent


def test_quoted_email_history_is_ignored(enricher: Enricher) -> None:
    body = (
        "Thank you for the fast reply, all sorted now.\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Acme Support <support@acme.example> wrote:\n"
        "> Could you please cancel the order and tell us your invoice number?\n"
    )
    e = enricher.enrich(contact(body, channel="email", subject="Re: order 88213"))
    assert e["intent"] == "praise"
    assert e["sentiment_label"] == "positive"


# -- visibility -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("channel", "attributes", "expected"),
    [
        ("social", {}, "public"),
        ("social", None, "public"),
        ("social", {"private": "true"}, "private"),
        ("social", {"dm": "true"}, "private"),
        ("social", {"dm": "True"}, "private"),
        ("social", {"dm": "false", "private": "false"}, "public"),
        ("email", {}, "private"),
        ("chat", {}, "private"),
        ("web_form", {}, "private"),
        ("phone", {}, "private"),
    ],
)
def test_visibility(channel: str, attributes, expected: str) -> None:
    assert visibility(channel, attributes) == expected


# -- priority -------------------------------------------------------------------------------

TIERS = ("vip", "standard", None)
SENTIMENTS = ("negative", "neutral", "positive", UNMEASURED)


def _p(priority: str | None) -> int:
    assert priority is not None
    return int(priority[1])  # P1 -> 1: smaller is more urgent


def test_priority_grid_properties_of_the_shipped_table() -> None:
    table = load_rules(DEFAULT_CONFIG_PATH).priority
    intents = [i for i in INTENTS]
    for intent, sentiment, tier in itertools.product(intents, SENTIMENTS, TIERS):
        public = _p(table.priority(intent, sentiment, tier, "public"))
        private = _p(table.priority(intent, sentiment, tier, "private"))
        # public outranks private: strictly, unless both are already P1 or still P4
        assert public < private or public == private in (1, 4), (intent, sentiment, tier)
        if intent == "complaint":
            assert public < private, (sentiment, tier)
    for intent, sentiment, vis in itertools.product(intents, SENTIMENTS, ("public", "private")):
        vip = _p(table.priority(intent, sentiment, "vip", vis))
        standard = _p(table.priority(intent, sentiment, "standard", vis))
        assert vip < standard or vip == standard in (1, 4), (intent, sentiment, vis)
        assert table.priority(intent, sentiment, None, vis) == table.priority(
            intent, sentiment, "standard", vis
        )
        if intent == "complaint":
            assert vip < standard, (sentiment, vis)
    for intent in ("outage", "cancellation"):
        for sentiment, tier, vis in itertools.product(SENTIMENTS, TIERS, ("public", "private")):
            assert _p(table.priority(intent, sentiment, tier, vis)) <= 2
    # a private, standard, neutral complaint is the lowest complaint; public vip negative the top
    assert table.priority("complaint", "neutral", "standard", "private") == "P4"
    assert table.priority("complaint", "negative", "vip", "public") == "P1"


def test_public_complaint_outranks_the_same_complaint_in_private(enricher: Enricher) -> None:
    text = "worst customer service ever. 3 hours on hold and nobody picked up"
    public = enricher.enrich(contact(text), tier="standard")
    dm = enricher.enrich(contact(text, attributes={"dm": "true"}), tier="standard")
    email = enricher.enrich(contact(text, channel="email"), tier="standard")
    assert public["intent"] == dm["intent"] == email["intent"] == "complaint"
    assert (public["visibility"], dm["visibility"]) == ("public", "private")
    assert _p(public["priority"]) < _p(dm["priority"]) == _p(email["priority"])


def test_vip_outranks_standard(enricher: Enricher) -> None:
    for text in ("worst customer service ever", "servizio pessimo, che vergogna"):
        vip = enricher.enrich(contact(text, channel="email"), tier="vip")
        standard = enricher.enrich(contact(text, channel="email"), tier="standard")
        unknown = enricher.enrich(contact(text, channel="email"), tier=None)
        assert _p(vip["priority"]) < _p(standard["priority"]) == _p(unknown["priority"])
    gold = enricher.enrich(contact("worst customer service ever"), tier="Gold")
    assert gold["priority"] == enricher.enrich(contact("worst customer service ever"))["priority"]


def test_outage_and_cancellation_rank_high(enricher: Enricher) -> None:
    for text in (
        "the site is down again",
        "il sito è down",
        "how do I cancel my subscription",
        "voglio disdire l'abbonamento",
    ):
        e = enricher.enrich(contact(text, channel="email"), tier="standard")
        assert e["intent"] in ("outage", "cancellation")
        assert e["priority"] in ("P1", "P2")
    praise = enricher.enrich(contact("thanks for the quick help!", channel="email"))
    assert praise["priority"] == "P4"


# -- outbound -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        ("Could you send us your order number?", True),
        ("Please DM us your order number.", True),  # a request without '?'
        ("Your refund has been processed.", False),
        ("Let us know if you need anything else!", False),
        ("Your refund is on its way. Is there anything else I can help with?", False),
        ("Your refund is on its way. Can you confirm you received it? Have a great day!", True),
        ("Your order shipped: https://track.acme.example/?id=5", False),  # '?' in a link
        ("Ci può inviare il numero d'ordine?", True),
        ("Ci invii il numero d'ordine in privato.", True),
        ("Potrebbe indicarci l'indirizzo di consegna.", True),
        ("Il rimborso è stato effettuato. Buona giornata!", False),
        ("Il rimborso è stato effettuato. Posso aiutarla con altro?", False),
        # two courtesy phrases in one sentence, then a real request
        ("Happy to help with anything else. What is your order number?", True),
        ("If you need anything else, happy to help! Have a great day.", False),
        ("Il problema potrebbe essere dovuto alla rete.", False),
    ],
)
def test_outbound_asks_customer(enricher: Enricher, text: str, asks: bool) -> None:
    e = enricher.enrich(contact(text, direction="outbound"))
    assert e["asks_customer"] is asks
    assert e["intent"] is None and e["priority"] is None


def test_outbound_still_gets_language_sentiment_and_visibility(enricher: Enricher) -> None:
    e = enricher.enrich(
        contact(
            "So sorry about this, we will fix it right away. Could you send us your order number?",
            direction="outbound",
        )
    )
    assert (e["language"], e["sentiment_supported"], e["visibility"]) == ("en", True, "public")
    assert e["asks_customer"] is True
    it = enricher.enrich(
        contact(
            "Ci scusi per il disagio, può inviarci il numero d'ordine?",
            direction="outbound",
            channel="chat",
        )
    )
    assert (it["language"], it["sentiment_supported"], it["visibility"]) == ("it", False, "private")


def test_outbound_reply_quoting_the_customer_question_does_not_ask(enricher: Enricher) -> None:
    body = (
        "Your refund was issued today.\n\n"
        "On Mon, 3 Mar 2025 at 10:00, Jane <jane@example.com> wrote:\n> Where is my refund?\n"
    )
    assert (
        enricher.enrich(contact(body, direction="outbound", channel="email"))["asks_customer"]
        is False
    )


def test_close_event_with_empty_body(enricher: Enricher) -> None:
    e = enricher.enrich(contact("", direction="outbound", kind="close"))
    assert e == Enrichment(
        language="und",
        sentiment_score=0.0,
        sentiment_label="neutral",
        sentiment_supported=True,
        intent=None,
        visibility="public",
        priority=None,
        asks_customer=False,
        fingerprint=None,
    )


def test_inbound_never_asks_customer(enricher: Enricher) -> None:
    assert enricher.enrich(contact("Could you send me the invoice?"))["asks_customer"] is False


# -- batches --------------------------------------------------------------------------------


def test_enrich_many_equals_enrich_one_by_one(enricher: Enricher) -> None:
    texts = [t for t, _ in EN_TWEETS + IT_TWEETS] + [EN_EMAIL, IT_EMAIL, "😡", "Hello", "Grazie"]
    contacts = [
        contact(
            t,
            direction="outbound" if i % 5 == 0 else "inbound",
            channel=("social", "email", "chat")[i % 3],
            language="it" if i % 7 == 0 else None,
        )
        for i, t in enumerate(texts)
    ]
    tiers = [("vip", "standard", None)[i % 3] for i in range(len(contacts))]
    assert enricher.enrich_many(contacts, tiers) == [
        enricher.enrich(c, t) for c, t in zip(contacts, tiers, strict=True)
    ]
    assert enricher.enrich_many(contacts) == [enricher.enrich(c) for c in contacts]
    assert enricher.enrich_many([]) == []


def test_enrich_many_needs_one_tier_per_contact(enricher: Enricher) -> None:
    with pytest.raises(ValueError, match="2 contacts but 1 tiers"):
        enricher.enrich_many([contact("a"), contact("b")], ["vip"])


def test_enrichment_has_exactly_the_documented_fields(enricher: Enricher) -> None:
    assert set(enricher.enrich(contact("hello there"))) == set(Enrichment.__annotations__)
