package dynamodb

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/streamer/streamer/internal/ddbutil"
	"github.com/streamer/streamer/projections"
)

// maxItemSize is DynamoDB's limit on one item: attribute names and values.
const maxItemSize = 400 * 1024

type item = map[string]types.AttributeValue

// Partition keys. Generation names hold no '#', so a generation's keys all
// start with "<gen>#" and no other generation's do.
func requestPK(gen, id string) string           { return gen + "#req#" + id }
func connectionPK(gen, id string) string        { return gen + "#conn#" + id }
func subscriptionPK(gen, request string) string { return gen + "#sub#" + request }

func key(pk, sk string) item { return item{AttrPK: str(pk), AttrSK: str(sk)} }

func metaKey() item { return key(MetaPK, SKView) }

// keyPart escapes free text for a composite index key, so that no two
// combinations of parts make the same key.
var keyPart = strings.NewReplacer("%", "%25", "#", "%23").Replace

func ownerKey(gen, tenant, owner string) string {
	return gen + "#" + keyPart(tenant) + "#" + keyPart(owner)
}

func statusKey(gen, status string) string { return gen + "#" + keyPart(status) }

func userKey(gen, tenant, user string) string {
	return gen + "#" + keyPart(tenant) + "#" + keyPart(user)
}

func expiryKey(gen string, shard int) string { return gen + "#exp#" + strconv.Itoa(shard) }

// expiryShard is the IndexExpiry shard of connection id.
func expiryShard(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % ExpiryShards)
}

// orderDigits is the width of orderKey.
const orderDigits = 20

// orderKey encodes t so that strings compare as the times do: Unix
// nanoseconds, offset to unsigned, in 20 digits; the zero time sorts
// before every other.
func orderKey(t time.Time) string {
	n := int64(math.MinInt64)
	if !t.IsZero() {
		n = t.UnixNano()
	}
	return fmt.Sprintf("%0*d", orderDigits, uint64(n)^(1<<63))
}

// sortKey is an index range key: the order key of t, then the ID.
func sortKey(t time.Time, id string) string { return orderKey(t) + "#" + id }

// parseSortKey returns the ID of a sortKey, or false.
func parseSortKey(s string) (string, bool) {
	if len(s) < orderDigits+2 || s[orderDigits] != '#' {
		return "", false
	}
	for i := range orderDigits {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	if _, err := strconv.ParseUint(s[:orderDigits], 10, 64); err != nil {
		return "", false
	}
	return s[orderDigits+1:], true
}

// ttlSeconds is t in Unix seconds rounded up, so that DynamoDB's TTL never
// removes an item before t; 0 for the zero time.
func ttlSeconds(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

// checkTimes refuses times that Unix nanoseconds cannot hold (the order
// keys use them).
func checkTimes(ts ...time.Time) error {
	lo, hi := time.Unix(0, math.MinInt64+1), time.Unix(0, math.MaxInt64)
	for _, t := range ts {
		if !t.IsZero() && (t.Before(lo) || t.After(hi)) {
			return fmt.Errorf("time %v outside the years 1678–2262 the view store keeps", t)
		}
	}
	return nil
}

// marshalRequest is the item of request view v in generation gen.
func marshalRequest(gen string, v projections.RequestView) (item, error) {
	if v.RequestID == "" || v.Version < 1 {
		return nil, fmt.Errorf("request view needs an ID and a version ≥ 1, got %q at %d", v.RequestID, v.Version)
	}
	if err := checkTimes(v.SubmittedAt, v.StartedAt, v.UpdatedAt, v.CompletedAt); err != nil {
		return nil, fmt.Errorf("request view %s: %w", v.RequestID, err)
	}
	if math.IsNaN(v.Percentage) || math.IsInf(v.Percentage, 0) {
		return nil, fmt.Errorf("request view %s: percentage %v is not a number DynamoDB stores", v.RequestID, v.Percentage)
	}
	it := item{
		AttrPK:              str(requestPK(gen, v.RequestID)),
		AttrSK:              str(SKView),
		AttrKind:            str(KindRequest),
		AttrID:              str(v.RequestID),
		AttrVersion:         num(v.Version),
		AttrPercentage:      &types.AttributeValueMemberN{Value: strconv.FormatFloat(v.Percentage, 'f', -1, 64)},
		AttrAttempt:         num(int64(v.Attempt)),
		AttrOwnerKey:        str(ownerKey(gen, v.Tenant, v.Owner)),
		AttrStatusKey:       str(statusKey(gen, v.Status)),
		AttrListSort:        str(sortKey(v.SubmittedAt, v.RequestID)),
		AttrCancelRequested: &types.AttributeValueMemberBOOL{Value: v.CancelRequested},
	}
	setStr(it, AttrAction, v.Action)
	setStr(it, AttrStatus, v.Status)
	setStr(it, AttrMessage, v.Message)
	setStr(it, AttrOwner, v.Owner)
	setStr(it, AttrTenant, v.Tenant)
	if len(v.Result) > 0 {
		it[AttrResult] = str(string(v.Result))
	}
	if v.Error != nil {
		m := item{errRetryable: &types.AttributeValueMemberBOOL{Value: v.Error.Retryable}}
		setStr(m, errCode, v.Error.Code)
		setStr(m, errMessage, v.Error.Message)
		it[AttrError] = &types.AttributeValueMemberM{Value: m}
	}
	setTime(it, AttrSubmittedAt, v.SubmittedAt)
	setTime(it, AttrStartedAt, v.StartedAt)
	setTime(it, AttrUpdatedAt, v.UpdatedAt)
	setTime(it, AttrCompletedAt, v.CompletedAt)
	if err := checkItem(it); err != nil {
		return nil, fmt.Errorf("request view %s: %w", v.RequestID, err)
	}
	return it, nil
}

// Keys of the AttrError map.
const (
	errCode      = "code"
	errMessage   = "message"
	errRetryable = "retryable"
)

// unmarshalRequest decodes marshalRequest.
func unmarshalRequest(it item) (projections.RequestView, error) {
	d := decoder{item: it}
	v := projections.RequestView{
		RequestID:       d.str(AttrID, true),
		Version:         d.num(AttrVersion, true),
		Action:          d.str(AttrAction, false),
		Status:          d.str(AttrStatus, false),
		Percentage:      d.float(AttrPercentage),
		Message:         d.str(AttrMessage, false),
		Owner:           d.str(AttrOwner, false),
		Tenant:          d.str(AttrTenant, false),
		Attempt:         int(d.num(AttrAttempt, false)),
		CancelRequested: d.bool(AttrCancelRequested),
		SubmittedAt:     d.time(AttrSubmittedAt),
		StartedAt:       d.time(AttrStartedAt),
		UpdatedAt:       d.time(AttrUpdatedAt),
		CompletedAt:     d.time(AttrCompletedAt),
	}
	if r := d.str(AttrResult, false); r != "" {
		v.Result = json.RawMessage(r)
	}
	if m, ok := d.m(AttrError); ok {
		ed := decoder{item: m, prefix: AttrError + "."}
		v.Error = &projections.RequestError{Code: ed.str(errCode, false), Message: ed.str(errMessage, false), Retryable: ed.bool(errRetryable)}
		d.adopt(ed)
	}
	if d.err != nil {
		return projections.RequestView{}, fmt.Errorf("request view item %s: %w", d.str(AttrPK, false), d.err)
	}
	return v, nil
}

// marshalConnection is the item of connection view v in generation gen.
func marshalConnection(gen string, v projections.ConnectionView) (item, error) {
	if v.ConnectionID == "" || v.Version < 1 {
		return nil, fmt.Errorf("connection view needs an ID and a version ≥ 1, got %q at %d", v.ConnectionID, v.Version)
	}
	if err := checkTimes(v.ConnectedAt, v.LastSeen, v.ExpiresAt); err != nil {
		return nil, fmt.Errorf("connection view %s: %w", v.ConnectionID, err)
	}
	it := item{
		AttrPK:      str(connectionPK(gen, v.ConnectionID)),
		AttrSK:      str(SKView),
		AttrKind:    str(KindConnection),
		AttrID:      str(v.ConnectionID),
		AttrVersion: num(v.Version),
	}
	setStr(it, AttrUser, v.User)
	setStr(it, AttrTenant, v.Tenant)
	setStr(it, AttrStatus, v.Status)
	setStr(it, AttrCloseReason, v.CloseReason)
	setTime(it, AttrConnectedAt, v.ConnectedAt)
	setTime(it, AttrLastSeen, v.LastSeen)
	if !v.ExpiresAt.IsZero() {
		setTime(it, AttrExpiresAtTime, v.ExpiresAt)
		it[TTLAttribute] = num(ttlSeconds(v.ExpiresAt))
		it[AttrExpiryKey] = str(expiryKey(gen, expiryShard(v.ConnectionID)))
		it[AttrExpirySort] = str(sortKey(v.ExpiresAt, v.ConnectionID))
	}
	if len(v.Subscriptions) > 0 {
		for req := range v.Subscriptions {
			if req == "" || !utf8.ValidString(req) {
				return nil, fmt.Errorf("connection view %s: subscription to %q: want a non-empty UTF-8 request ID", v.ConnectionID, req)
			}
		}
		b, err := json.Marshal(v.Subscriptions)
		if err != nil {
			return nil, fmt.Errorf("connection view %s: subscriptions: %w", v.ConnectionID, err)
		}
		it[AttrSubscriptions] = str(string(b))
	}
	if v.Open() {
		it[AttrUserKey] = str(userKey(gen, v.Tenant, v.User))
	}
	if err := checkItem(it); err != nil {
		return nil, fmt.Errorf("connection view %s: %w", v.ConnectionID, err)
	}
	return it, nil
}

// unmarshalConnection decodes marshalConnection.
func unmarshalConnection(it item) (projections.ConnectionView, error) {
	d := decoder{item: it}
	v := projections.ConnectionView{
		ConnectionID: d.str(AttrID, true),
		Version:      d.num(AttrVersion, true),
		User:         d.str(AttrUser, false),
		Tenant:       d.str(AttrTenant, false),
		Status:       d.str(AttrStatus, false),
		CloseReason:  d.str(AttrCloseReason, false),
		ConnectedAt:  d.time(AttrConnectedAt),
		LastSeen:     d.time(AttrLastSeen),
		ExpiresAt:    d.time(AttrExpiresAtTime),
	}
	if subs := d.str(AttrSubscriptions, false); subs != "" {
		if err := json.Unmarshal([]byte(subs), &v.Subscriptions); err != nil {
			d.fail(AttrSubscriptions, "is not a JSON object of versions: %v", err)
		}
		if len(v.Subscriptions) == 0 {
			v.Subscriptions = nil
		}
	}
	if d.err != nil {
		return projections.ConnectionView{}, fmt.Errorf("connection view item %s: %w", d.str(AttrPK, false), d.err)
	}
	return v, nil
}

// subscriptionItem is the subscriber index entry of connection v for
// request req.
func subscriptionItem(gen, req string, v projections.ConnectionView) item {
	it := item{
		AttrPK:      str(subscriptionPK(gen, req)),
		AttrSK:      str(v.ConnectionID),
		AttrKind:    str(KindSubscription),
		AttrID:      str(v.ConnectionID),
		AttrRequest: str(req),
	}
	if ttl := ttlSeconds(v.ExpiresAt); ttl != 0 {
		it[TTLAttribute] = num(ttl)
	}
	return it
}

// marshalMeta is the Meta item of m.
func marshalMeta(m projections.Meta) item {
	it := item{
		AttrPK:       str(MetaPK),
		AttrSK:       str(SKView),
		AttrKind:     str(KindMeta),
		AttrEpoch:    num(m.Epoch),
		AttrDone:     num(m.Done),
		AttrRevision: num(m.Revision),
	}
	setStr(it, AttrActive, m.Active)
	setStr(it, AttrRebuilding, m.Rebuilding)
	setStr(it, AttrPrevious, m.Previous)
	setStr(it, AttrCheckpoint, m.Checkpoint)
	setStr(it, AttrViews, string(m.Views))
	setTime(it, AttrUpdatedAt, m.UpdatedAt)
	return it
}

func unmarshalMeta(it item) (projections.Meta, error) {
	d := decoder{item: it}
	m := projections.Meta{
		Active:     d.str(AttrActive, false),
		Rebuilding: d.str(AttrRebuilding, false),
		Previous:   d.str(AttrPrevious, false),
		Epoch:      d.num(AttrEpoch, true),
		Checkpoint: d.str(AttrCheckpoint, false),
		Done:       d.num(AttrDone, false),
		Revision:   d.num(AttrRevision, true),
		UpdatedAt:  d.time(AttrUpdatedAt),
		Views:      projections.ViewKind(d.str(AttrViews, false)),
	}
	if d.err != nil {
		return projections.Meta{}, fmt.Errorf("view meta item: %w", d.err)
	}
	return m, nil
}

// checkItem enforces what DynamoDB would reject or silently alter: an item
// over 400 KB, and strings that are not valid UTF-8 (the SDK's JSON
// encoding would replace the bad bytes).
func checkItem(it item) error {
	size := 0
	for name, av := range it {
		if !validUTF8(av) {
			return fmt.Errorf("attribute %s is not valid UTF-8 (DynamoDB stores strings as UTF-8)", name)
		}
		size += len(name) + valueSize(av)
	}
	if size > maxItemSize {
		return fmt.Errorf("the view is %d bytes as a DynamoDB item, over the 400 KB item limit", size)
	}
	return nil
}

func validUTF8(av types.AttributeValue) bool {
	switch v := av.(type) {
	case *types.AttributeValueMemberS:
		return utf8.ValidString(v.Value)
	case *types.AttributeValueMemberM:
		for k, x := range v.Value {
			if !utf8.ValidString(k) || !validUTF8(x) {
				return false
			}
		}
	}
	return true
}

// valueSize is an upper bound of DynamoDB's size of av.
var valueSize = ddbutil.ValueSize

func str(s string) types.AttributeValue { return ddbutil.S(s) }

func num(n int64) types.AttributeValue { return ddbutil.N(n) }

func setStr(it item, name, s string) {
	if s != "" {
		it[name] = str(s)
	}
}

func setTime(it item, name string, t time.Time) {
	if !t.IsZero() {
		it[name] = str(t.UTC().Format(time.RFC3339Nano))
	}
}

// decoder reads typed attributes of an item, remembering the first problem.
type decoder struct {
	item   item
	prefix string
	err    error
}

func (d *decoder) fail(name, format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("attribute %s%s %s", d.prefix, name, fmt.Sprintf(format, args...))
	}
}

// adopt takes the first problem of a nested decoder.
func (d *decoder) adopt(n decoder) {
	if d.err == nil {
		d.err = n.err
	}
}

func (d *decoder) str(name string, required bool) string {
	av, ok := d.item[name]
	if !ok {
		if required {
			d.fail(name, "is missing")
		}
		return ""
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		d.fail(name, "is %T, want S", av)
		return ""
	}
	return s.Value
}

func (d *decoder) numText(name string, required bool) (string, bool) {
	av, ok := d.item[name]
	if !ok {
		if required {
			d.fail(name, "is missing")
		}
		return "", false
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		d.fail(name, "is %T, want N", av)
		return "", false
	}
	return n.Value, true
}

func (d *decoder) num(name string, required bool) int64 {
	s, ok := d.numText(name, required)
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		d.fail(name, "is not an integer: %q", s)
	}
	return n
}

func (d *decoder) float(name string) float64 {
	s, ok := d.numText(name, false)
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		d.fail(name, "is not a number: %q", s)
	}
	return f
}

func (d *decoder) bool(name string) bool {
	av, ok := d.item[name]
	if !ok {
		return false
	}
	b, ok := av.(*types.AttributeValueMemberBOOL)
	if !ok {
		d.fail(name, "is %T, want BOOL", av)
		return false
	}
	return b.Value
}

func (d *decoder) time(name string) time.Time {
	s := d.str(name, false)
	if s == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d.fail(name, "is not an RFC 3339 time: %v", err)
		return time.Time{}
	}
	return t.UTC()
}

func (d *decoder) m(name string) (item, bool) {
	av, ok := d.item[name]
	if !ok {
		return nil, false
	}
	m, ok := av.(*types.AttributeValueMemberM)
	if !ok {
		d.fail(name, "is %T, want M", av)
		return nil, false
	}
	return m.Value, true
}
