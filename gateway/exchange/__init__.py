"""Document exchange: 1207 messages (`message`), EDRPOU codes (`edrpou`), outbox/inbox and workers."""
