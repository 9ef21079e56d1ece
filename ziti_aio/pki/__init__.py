"""Sans-I/O PKI: keys, CAs and the certificates they issue, CSRs, bundles, enrollment JWTs, the PKI directory.

Everything here is synchronous and uses only ``cryptography`` and PyJWT; only :mod:`ziti_aio.pki.files`
touches the file system.
"""
