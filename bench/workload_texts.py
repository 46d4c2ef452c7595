"""Texts of the bench workload (bench.workload): fragments in English and Italian, joined at
random; numbers make them unique."""

from __future__ import annotations

import random

EN_PROBLEMS = (
    "my order {n} never arrived",
    "I was charged twice for invoice {n}",
    "the app crashes every time I open my account {n}",
    "my internet has been down since {h} o'clock, account {n}",
    "still no refund for booking {n} after {h} weeks",
    "package {n} shows delivered but it is not here",
    "I can't reset my password, case {n}",
    "you cancelled my subscription {n} without asking",
    "the replacement part for order {n} is the wrong size",
    "I waited {h} hours on hold about claim {n}",
    "the coupon {n} is rejected at checkout",
    "my bill {n} doubled this month without any explanation",
    "the technician never showed up for appointment {n}",
    "how do I change the delivery address of order {n}",
    "what are the opening hours of store {n}",
)
IT_PROBLEMS = (
    "il mio ordine {n} non è mai arrivato",
    "mi avete addebitato due volte la fattura {n}",
    "l'app si chiude appena apro il profilo {n}",
    "internet non funziona dalle {h}, contratto {n}",
    "aspetto ancora il rimborso della prenotazione {n} da {h} settimane",
    "il pacco {n} risulta consegnato ma non è arrivato",
    "non riesco a reimpostare la password, pratica {n}",
    "come posso cambiare l'indirizzo di consegna dell'ordine {n}",
)
EN_OPENINGS = ("", "hi", "hey", "hello", "ugh", "seriously,", "come on,", "help!", "so")
IT_OPENINGS = ("", "ciao", "salve", "buongiorno", "scusate,", "ancora,")
CLOSINGS = ("", "!", "?", ". please help", ". what is going on?", ", third time now", " :(")
EN_DETAILS = (
    "I have already tried restarting everything twice and nothing changed.",
    "Your website says the issue was fixed but it clearly was not.",
    "I called on Monday and the agent promised a call back that never came.",
    "The tracking page has not been updated for {h} days.",
    "I attach the screenshot of the error message, code {n}.",
    "This is the third time this month that it happens.",
    "I have been a customer for {h} years and I have never been treated like this.",
    "Please check the notes on my account, the reference is {n}.",
    "The amount charged was {n} euros instead of the price on the offer.",
    "I would like to know when I can expect an answer.",
)
IT_DETAILS = (
    "Ho già provato a riavviare tutto due volte senza risultato.",
    "Il vostro sito dice che il problema è risolto ma non è vero.",
    "Ho chiamato lunedì e mi hanno promesso di richiamarmi, mai successo.",
    "La pagina di tracciamento non si aggiorna da {h} giorni.",
    "Vi allego lo screenshot dell'errore, codice {n}.",
    "Sono cliente da {h} anni e non sono mai stato trattato così.",
)
AGENT_REPLIES = (
    "Sorry to hear that! Could you send us your order number by DM?",
    "We're on it. Can you confirm the email address on the account?",
    "That's not the experience we want for you. Please follow us and DM the details.",
    "Thanks for waiting, the refund is on its way and should show in {h} days.",
    "Please try reinstalling the app and let us know if it persists.",
    "We've escalated this to our team, reference {n}. Hang tight.",
    "Ci scusiamo per il disagio, può inviarci il numero d'ordine in privato?",
    "Abbiamo inoltrato la segnalazione {n} al reparto tecnico.",
)
CUSTOMER_FOLLOW_UPS = (
    "it is order {n}",
    "I already tried that, reference {n}",
    "still waiting, it has been {h} hours now",
    "DM sent with code {n}",
    "that did not work, error {n} again",
    "ok thanks, that works",
    "ancora niente, sono passate {h} ore",
    "fatto, grazie mille",
)
CHAT_LINES = (
    "hi, I need help with order {n}",
    "it says payment failed, code {n}",
    "yes that is my email",
    "ok",
    "thanks!",
    "can you check again please",
    "ciao, ho un problema con l'ordine {n}",
    "grazie",
)
CHAT_AGENT = (
    "Hi, I'm {a}, happy to help. Could you give me your order number?",
    "Thanks, one moment while I check.",
    "I can see the payment on our side, it will go through in a few minutes.",
    "Is there anything else I can help you with?",
    "Ciao, sono {a}. Mi può dare il numero d'ordine?",
)
NAMES = ("Mario", "Giulia", "Ann", "Kwame", "Li", "Sofia", "Omar", "Ines", "Piotr", "Yuki")
SURNAMES = ("Rossi", "Bianchi", "Smith", "Mensah", "Wei", "Garcia", "Haddad", "Costa", "Nowak")
AGENTS = ("Jane", "Tom", "Luca", "Priya", "Sam", "Elena")


def fill(rng: random.Random, template: str) -> str:
    if "{" not in template:
        return template
    return template.replace("{n}", str(rng.randint(10_000, 9_999_999))).replace(
        "{h}", str(rng.randint(2, 11))
    )


def tweet(rng: random.Random, brand: str, italian: bool) -> str:
    openings, problems = (IT_OPENINGS, IT_PROBLEMS) if italian else (EN_OPENINGS, EN_PROBLEMS)
    problem = fill(rng, rng.choice(problems))
    parts = [f"@{brand.capitalize()}Support", rng.choice(openings), problem]
    text = " ".join(p for p in parts if p) + rng.choice(CLOSINGS)
    if rng.random() < 0.4:  # longer tweets carry a detail, a link or a hashtag
        detail = fill(rng, rng.choice(IT_DETAILS if italian else EN_DETAILS))
        text = f"{text} {detail} https://t.co/{rng.getrandbits(40):x} #fail"
    return text[:280]


def email_body(rng: random.Random, name: str, italian: bool, quoting: str | None = None) -> str:
    details = IT_DETAILS if italian else EN_DETAILS
    problems = IT_PROBLEMS if italian else EN_PROBLEMS
    greeting = "Buongiorno," if italian else "Hello,"
    paragraphs = [
        " ".join(fill(rng, rng.choice(details)) for _ in range(rng.randint(1, 4)))
        for _ in range(rng.randint(2, 5))
    ]
    first = fill(rng, rng.choice(problems))
    text = f"{greeting}\n\n{first[0].upper()}{first[1:]}.\n\n" + "\n\n".join(paragraphs)
    regards = "Cordiali saluti" if italian else "Best regards"
    text += f"\n\n{regards},\n{name}\n-- \nSent from my phone"
    if quoting is not None:
        quoted = "\n".join(f"> {line}" for line in quoting.splitlines())
        text += f"\n\nOn Mon, 2 Jun 2025 at 10:{rng.randint(10, 59)}, support wrote:\n{quoted}"
    return text
