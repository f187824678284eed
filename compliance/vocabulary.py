"""The words of the domain: canonical event types and their Swedish names.

The Swedish names are those of the standard Swedish export (imports.md), so that a
deviation report's timeline reads like the case system the staff know. The import mapping
`standard-sv.toml` lists the same names as data (with alternatives) for the importer.
"""

EVENT_TYPES = (
    "case.opened", "sip.initiated", "consent.given", "consent.withdrawn",
    "meeting.scheduled", "meeting.rescheduled", "meeting.cancelled", "invitation.sent",
    "meeting.held", "bus_individ.requested", "plan.documented", "deviation.filed",
    "deviation.replied", "deviation.closed", "protocol.sent", "case.closed", "group.meeting.held",
)

EVENT_NAMES_SV = {
    "case.opened": "Ärende öppnat", "sip.initiated": "SIP initierad",
    "consent.given": "Samtycke givet", "consent.withdrawn": "Samtycke återkallat",
    "meeting.scheduled": "Möte planerat", "meeting.rescheduled": "Möte ombokat",
    "meeting.cancelled": "Möte inställt", "invitation.sent": "Kallelse skickad",
    "meeting.held": "Möte genomfört", "bus_individ.requested": "BUS-individ aktualiserad",
    "plan.documented": "Plan dokumenterad", "case.closed": "Ärende avslutat",
    # not in the imports.md list; the shipped mapping's extension
    "deviation.filed": "Avvikelse anmäld", "deviation.replied": "Avvikelse besvarad",
    "deviation.closed": "Avvikelse avslutad", "group.meeting.held": "Gruppmöte genomfört",
    "protocol.sent": "Protokoll skickat",
}
KIND_SV = {"sip": "SIP", "sip_followup": "SIP-uppföljning", "bus_individ": "BUS-individ"}
RECIPIENT_SV = {"guardian": "Vårdnadshavare", "child": "Barnet"}   # vårdnadshavare, barnet
CHANNEL_SV = {"email": "E-post", "letter": "Brev", "phone": "Telefon", "other": "Annat"}
STATUS_SV = {"violation": "Avvikelse", "warning": "Varning"}

# Review decisions (state.md) after which a finding gets no draft: a deviation is filed,
# or the finding is justified or a data error.
NO_DRAFT_DECISIONS = frozenset({"deviation-filed", "justified", "data-error"})
