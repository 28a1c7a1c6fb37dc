"""Reading an Ango export once, in bounded memory, into a summary an agent can act on.

The pipeline is push-based so one code path serves every source: raw bytes (a local file, an HTTP
download) go through `unpack` (ZIP members, gzip, or plain), each member through a `scan` splitter that
cuts the JSON array or NDJSON stream into records and decodes them with typed msgspec Structs
(`records`), and the records into one `accumulate.Accumulator` whose memory is O(classes + people +
top_k): it reads each batch of records into columns and has its sections (`sections/`: overview,
labels, questions, workflow, people, consensus, anomalies) count them. `pipeline` drives it from async
sources with progress and cancellation; `summary` composes the sections' parts into the concise or
detailed result model.
"""
