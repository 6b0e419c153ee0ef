package eventbridge

import (
	"errors"
	"fmt"
	"net/url"
	"regexp"
)

// ErrBadEndpoint is matched by NewClient's error when the region or the
// base endpoint cannot make a URL.
var ErrBadEndpoint = errors.New("bad endpoint")

// partition is an AWS partition as the SDK's endpoint rules know it
// (aws-sdk-go-v2 internal/endpoints/awsrulesfn/partitions.json): its
// region pattern, its global pseudo-region and its DNS suffix.
type partition struct {
	id, regionRegex, global, dnsSuffix string
}

// partitions, in the SDK's order (the first whose pattern matches wins;
// none matching means "aws"). No region of these partitions overrides
// the DNS suffix.
var partitions = []partition{
	{"aws", `^(us|eu|ap|sa|ca|me|af|il|mx)\-\w+\-\d+$`, "aws-global", "amazonaws.com"},
	{"aws-cn", `^cn\-\w+\-\d+$`, "aws-cn-global", "amazonaws.com.cn"},
	{"aws-eusc", `^eusc\-(de)\-\w+\-\d+$`, "", "amazonaws.eu"},
	{"aws-iso", `^us\-iso\-\w+\-\d+$`, "aws-iso-global", "c2s.ic.gov"},
	{"aws-iso-b", `^us\-isob\-\w+\-\d+$`, "aws-iso-b-global", "sc2s.sgov.gov"},
	{"aws-iso-e", `^eu\-isoe\-\w+\-\d+$`, "aws-iso-e-global", "cloud.adc-e.uk"},
	{"aws-iso-f", `^us\-isof\-\w+\-\d+$`, "aws-iso-f-global", "csp.hci.ic.gov"},
	{"aws-us-gov", `^us\-gov\-\w+\-\d+$`, "aws-us-gov-global", "amazonaws.com"},
}

// Endpoint is EventBridge's endpoint in region, as the SDK resolves it
// without FIPS, dual-stack or a global endpoint ID:
// https://events.{region}.{DNS suffix of the region's partition}, e.g.
// https://events.eu-west-1.amazonaws.com, https://events.cn-north-1.amazonaws.com.cn.
func Endpoint(region string) (string, error) {
	if !isHostLabel(region) {
		return "", fmt.Errorf("%w: region %q is not a host name label", ErrBadEndpoint, region)
	}
	return "https://events." + region + "." + dnsSuffix(region) + "/", nil
}

// isHostLabel reports whether s can stand in a host name: letters, digits
// and inner hyphens, at most 63 characters. (No package-level regexp: it
// would be compiled at every cold start.)
func isHostLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// dnsSuffix is the DNS suffix of region's partition, found as the SDK
// finds the partition: a partition's own global region, else the first
// matching pattern, else "aws".
func dnsSuffix(region string) string {
	for _, p := range partitions {
		if p.global != "" && region == p.global {
			return p.dnsSuffix
		}
	}
	for _, p := range partitions {
		if regexp.MustCompile(p.regionRegex).MatchString(region) {
			return p.dnsSuffix
		}
	}
	return partitions[0].dnsSuffix
}

// baseEndpoint is the URL to post to for a configured base endpoint: the
// URL itself, with path "/" when it has none (as the SDK sends it).
func baseEndpoint(base string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("%w: base endpoint: %w", ErrBadEndpoint, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("%w: base endpoint %q is not an http(s) URL with a host", ErrBadEndpoint, base)
	}
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String(), nil
}
