"""The event firehose: simulated media nodes and agents that load the streams without
media, closing the loop through the streams' own routing decisions."""
