"""The serial link every part shares: ports by URL, RFC 2217 client and server plumbing, resets, SLIP."""
