"""Wire formats of the external notification channels: WeCom and DingTalk group robots, an SMS gateway.

Each adapter renders a request body from a message, posts it to the endpoint's url (the base url
comes from `channel_endpoint`, so tests point it at local receivers) and reads the answer into a
`SendResult`. Adapters never log: urls carry credentials and SMS bodies carry phone numbers.
"""
