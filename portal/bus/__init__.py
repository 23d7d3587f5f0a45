"""The RabbitMQ bridge: the outbox relayed to `billing.events`, commands consumed from `billing.commands`.

Layout: `topology` (exchanges and queues, declared from code), `relay` (outbox → events exchange),
`consumer` (commands queue → bus inbox → handlers), `commands` (command schemas and handlers),
`schemas` (the published JSON Schemas), `cli` (the `flask bus …` commands, the Procfile `bridge`)."""
