"""Kafka as every process uses it: topic names and layout, the local Tansu broker, file replay into
the posts topic and the announcer of model events."""
