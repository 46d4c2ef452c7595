"""SLA rules as plain functions over plain data: no Kafka, no Elasticsearch, no clock reads.

policy.py    the operator's policy file -> Policy; which Rule applies to a clock
calendar.py  when clocks run: calendar hours, or a brand's business hours
clock.py     deadline(), elapsed(), evaluate() -> SlaEvents, next_wakeup()
model.py     OwedTarget, Pause, SlaEvent
syntax.py    the small text formats of the policy file ('6h', 'mon-fri', '09:00-18:00')
"""
