//! The text the stack prints once it is up: where things are and a copy-paste walkthrough.

/// A walkthrough against the given API base URLs. It needs only a shell, curl, sed and cargo
/// (which mints tokens with the stack's development secret).
pub fn walkthrough(member_url: &str, reservation_url: &str) -> String {
    format!(
        r#"
Member API:       {member_url}   (documented, and can be tried, at {member_url}/docs)
Reservation API:  {reservation_url}   (documented, and can be tried, at {reservation_url}/docs)
Live page:        {reservation_url}/   (reservations and members changing as you go; it asks for a token)

Walkthrough (paste into another shell):

  # 0. A staff token (every scope, any member); a member's token acts for that member only
  STAFF="authorization: Bearer $(cargo run -q -p stack -- token --staff)"

  # 1. Register a member (member-service writes the member and a MemberRegistered outbox row)
  MEMBER_ID=$(curl -s -X POST {member_url}/members -H "$STAFF" -H 'content-type: application/json' \
    -d '{{"name":"Ada Lovelace","email":"ada-'$RANDOM'@example.com"}}' | sed -E 's/.*"id":"([^"]+)".*/\1/')
  MEMBER="authorization: Bearer $(cargo run -q -p stack -- token --member $MEMBER_ID)"
  echo "member $MEMBER_ID"

  # 2. Wait until reservation-service has heard of the member (through Kafka, not by asking)
  until curl -sf {reservation_url}/known-members/$MEMBER_ID -H "$MEMBER"; do sleep 0.1; done; echo

  # 3. The member makes two reservations with its own token (for another member: 403)
  for ROOM in room-a room-b; do
    curl -s -X POST {reservation_url}/reservations -H "$MEMBER" -H 'content-type: application/json' \
      -d '{{"member_id":"'$MEMBER_ID'","resource":"'$ROOM-$RANDOM'","starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T11:00:00Z"}}'; echo
  done

  # 4. Delete the member (204), then watch both reservations become cancelled (member_deleted)
  curl -s -o /dev/null -w 'DELETE %{{http_code}}\n' -X DELETE {member_url}/members/$MEMBER_ID -H "$STAFF"
  sleep 0.2; curl -s "{reservation_url}/reservations?member_id=$MEMBER_ID" -H "$STAFF"; echo

  # 5. A new reservation for the deleted member is refused (422); without a token, 401
  curl -s -X POST {reservation_url}/reservations -H "$STAFF" -H 'content-type: application/json' \
    -d '{{"member_id":"'$MEMBER_ID'","resource":"room-c","starts_at":"2030-01-01T10:00:00Z","ends_at":"2030-01-01T11:00:00Z"}}'; echo
  curl -s -o /dev/null -w 'no token: %{{http_code}}\n' {reservation_url}/reservations

  # 6. Watch it live: open {reservation_url}/ in a browser and paste the staff token, or follow
  #    the stream the page reads (Ctrl-C to stop; a Last-Event-ID header resumes after the last
  #    change you saw)
  curl -sN "{reservation_url}/updates?member_id=$MEMBER_ID" -H "$STAFF"

Health: {member_url}/ready  {reservation_url}/ready  {reservation_url}/consumer (operator scope)
Stop with Ctrl-C; data stays in the data directory for the next start.
"#
    )
}
