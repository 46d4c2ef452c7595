"""Real-looking customer messages for the enrichment tests."""

from __future__ import annotations

from typing import Any

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


def contact(body: str, *, direction: str = "inbound", channel: str = "social", **extra: Any):
    return {"channel": channel, "direction": direction, "body": body, **extra}
