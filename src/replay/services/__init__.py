"""The application layer: one small async function per use case (admit a recording, move
or confirm a cut, request publication or withdrawal, import a programme), over narrow
typed dependencies. Web handlers, CLI commands and job tasks are thin adapters over these
and hold no business rule of their own; every refusal is one of `services.errors`."""
