"""The chat domain, pure: records, the wire protocol, membership rules, ids, the frame budget and
the error tree. No I/O, no AWS, no PynamoDB; it imports nothing else of chalicelib, and every
other package of chalicelib may import it."""
