"""The Google Cloud backend: Cloud Storage, Firestore and Pub/Sub, or their emulators.

``backend.open_gcp`` wires the three ports. A service whose emulator host is
set in the settings runs against that emulator, with the bridges below turned
on; otherwise against Google Cloud with Application Default Credentials.

Emulator gaps, and what the adapters do about them (details in each module):

- Cloud Storage emulator: sends no Pub/Sub notifications (``blobs``: a put under
  the uploads prefix publishes the JSON_API_V1 ``OBJECT_FINALIZE`` notification
  itself); keeps only the live generation and ignores ``generation`` on reads
  (``blobs``: each generation is also kept as a hidden copy); refuses names with
  a ``..`` segment or a backslash (``blobs``: such names are stored escaped);
  its ``mediaLink`` leaves names unescaped (``blobs``: downloads never follow it).
- Firestore emulator: no document triggers reach Tributary (``documents``:
  creating a ``jobs/`` document publishes the ``document.created`` event).
- Pub/Sub emulator: an erratic retry policy (``bus``: subscriptions get none
  there; a nack gives the message back after the configured backoff); labels
  cannot be updated (``subscriptions``); an exhausted message is moved to the
  dead-letter topic only when its subscription is next pulled (not bridged: every
  consumer keeps pulling).

Where Pub/Sub is stricter than the port allows (no count from seek, ack deadlines
of at least 10 s, ``delivery_attempt`` only with a dead-letter policy), see ``bus``.
"""
