"""brandpulse streaming side: Faust app, agents, topics, schemas, ClickHouse sink and CLI."""
