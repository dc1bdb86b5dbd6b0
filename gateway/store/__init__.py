"""Durable state: database models, migrations, content-addressed document bodies."""
