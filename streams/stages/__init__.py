"""The worker's stages, as objects faust's agents and timers call (streams.app wires them):

route.py           contacts.raw -> contacts.keyed: decode, validate, identify, enrich
thread.py          contacts.keyed -> the outputs: each customer's timeline stepped
timeline.py        one step of a timeline (pure), and what the table stores
timeline_cache.py  an LRU cache of parsed timelines, beside the table
publish.py         the thread stage's outputs, sent through faust's producer
due_clocks.py      the SLA timer: customers re-judged when their clocks change
expiry.py          the retention timer: timelines of silent customers dropped
gauges.py          the gauges timer: timelines held, conversations, consumer lag
index.py           the output topics' records -> Elasticsearch actions (streams.indexer)
records.py         what the stages hand each other through Kafka
"""
