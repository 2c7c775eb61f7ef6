package cost

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"
)

// FOCUS 1.3 values meshwatch writes. A Kafka cluster is a messaging
// service: ServiceCategory Integration, ServiceSubcategory Messaging.
const (
	focusServiceName        = "Apache Kafka"
	focusServiceCategory    = "Integration"
	focusServiceSubcategory = "Messaging"
	focusChargeCategory     = "Usage"
	focusChargeFrequency    = "Usage-Based"
	focusPricingCategory    = "Standard"
	// focusProvider is the provider of the service: the platform team's
	// cluster, billed internally.
	focusProvider = "Internal Kafka platform"
)

// FOCUSColumns are the columns of the FOCUS report: FOCUS 1.3 columns in
// alphabetical order, then meshwatch's own x_ columns.
var FOCUSColumns = []string{
	"AllocatedMethodDetails", "AllocatedMethodId", "AllocatedResourceId", "AllocatedResourceName", "AllocatedTags",
	"BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodEnd", "BillingPeriodStart",
	"ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency", "ChargePeriodEnd", "ChargePeriodStart",
	"ConsumedQuantity", "ConsumedUnit", "ContractedCost", "ContractedUnitPrice", "EffectiveCost",
	"HostProviderName", "InvoiceIssuerName", "ListCost", "ListUnitPrice", "PricingCategory", "PricingQuantity",
	"PricingUnit", "ResourceId", "ResourceName", "ResourceType", "ServiceCategory", "ServiceName",
	"ServiceProviderName", "ServiceSubcategory", "SkuMeter", "SubAccountId", "SubAccountName", "Tags",
	"x_Product", "x_Domain", "x_Owner", "x_CostCenter", "x_Topic", "x_ConsumerGroup", "x_Component",
	"x_Pool", "x_AllocationMethod", "x_IsEstimate", "x_RecordedAt",
}

var skuMeters = map[string]string{
	ComponentStorage:    "Storage",
	ComponentPartitions: "Partitions",
	ComponentIngress:    "Data Transfer In",
	ComponentEgress:     "Data Transfer Out",
	ComponentCrossAZ:    "Inter-AZ Data Transfer",
	ComponentCluster:    "Cluster",
}

var descriptions = map[string]string{
	ComponentStorage:    "Kafka log storage on every replica",
	ComponentPartitions: "Kafka partitions",
	ComponentIngress:    "Bytes produced to Kafka",
	ComponentEgress:     "Bytes read from Kafka by a consumer group",
	ComponentCrossAZ:    "Bytes that crossed availability zones (replication and clients)",
	ComponentCluster:    "Share of the cluster bill for an hour without metered usage",
}

// WriteFOCUS writes rows as a FOCUS 1.3 cost and usage CSV. Every row is a
// Usage charge of the hour it covers (ChargePeriodStart/End). Money
// columns are decimals in the billing currency; BilledCost and
// EffectiveCost are what is charged (the invoice share in invoice mode),
// ListCost and ContractedCost the rate-card cost. A row that restates a
// closed hour has ChargeClass Correction and belongs to the billing period
// in which it was recorded. Rows split between payers or spread from the
// shared pool carry AllocatedMethodId, AllocatedMethodDetails and the
// Allocated* columns; others leave them null (empty).
func WriteFOCUS(w io.Writer, rows []Row) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(FOCUSColumns); err != nil {
		return err
	}
	for i := range rows {
		if err := cw.Write(focusRecord(&rows[i])); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func focusRecord(r *Row) []string {
	billing := r.Hour
	if r.Class == ClassCorrection {
		billing = r.Recorded
	}
	bStart := monthStart(billing)
	bEnd := bStart.AddDate(0, 1, 0)
	q, unit := pricingQuantity(r)

	resID, resName, resType := "kafka://"+r.Cluster, r.Cluster, "Cluster"
	if r.Topic != "" {
		resID, resName, resType = "kafka://"+r.Cluster+"/topics/"+r.Topic, r.Topic, "Topic"
	}

	var allocMethod, allocDetails, allocID, allocName, allocTags string
	if r.Method != MethodDirect && r.Method != MethodPool && r.Method != MethodInvoice {
		// A split cost allocation: the charge of a topic (egress) or of the
		// shared pool, allocated to a group's team or a product.
		allocMethod = r.Method
		ratio := r.Ratio
		if ratio == 0 {
			ratio = 1
		}
		allocDetails = mustJSON(map[string]any{"Elements": []any{map[string]any{
			"AllocatedRatio": ratio, "UsageUnit": unit, "UsageQuantity": json.Number(q),
		}}})
		if r.Group != "" {
			allocID, allocName = "kafka://"+r.Cluster+"/groups/"+r.Group, r.Group
		} else {
			allocID, allocName = "meshwatch://products/"+r.Product, r.Product
		}
		allocTags = mustJSON(tags(map[string]string{"owner": r.Owner, "cost_center": r.CostCenter, "product": r.Product, "consumer_group": r.Group}))
	}
	var resTags string
	if r.Pool == "" && r.Product != Shared && r.Product != Idle && r.Product != Unallocated {
		resTags = mustJSON(tags(map[string]string{"product": r.Product, "domain": r.Domain, "owner": r.ProductOwner}))
	}

	desc := descriptions[r.Component]
	switch {
	case r.Pool == Shared:
		desc += ", spread from the shared pool (internal topics)"
	case r.Product == Shared:
		desc += " of internal topics"
	case r.Product == Idle:
		desc += " not used by any topic (idle capacity)"
	case r.Product == Unallocated:
		desc += " of a topic no data product claims"
	}

	return []string{
		allocDetails, allocMethod, allocID, allocName, allocTags,
		r.Cost.format(0), r.Cluster, r.Cluster, r.Currency, stamp(bEnd), stamp(bStart),
		focusChargeCategory, r.Class, desc, focusChargeFrequency, stamp(r.Hour.Add(time.Hour)), stamp(r.Hour),
		q, unit, r.ListCost.format(0), r.UnitPrice.format(0), r.Cost.format(0),
		focusProvider, focusProvider, r.ListCost.format(0), r.UnitPrice.format(0), focusPricingCategory, q,
		unit, resID, resName, resType, focusServiceCategory, focusServiceName,
		focusProvider, focusServiceSubcategory, skuMeters[r.Component], r.Domain, r.Domain, resTags,
		r.Product, r.Domain, r.Owner, r.CostCenter, r.Topic, r.Group, r.Component,
		r.Pool, r.Method, strconv.FormatBool(r.Estimate), stamp(r.Recorded),
	}
}

func tags(m map[string]string) map[string]string {
	for k, v := range m {
		if v == "" {
			delete(m, k)
		}
	}
	return m
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		// Only maps of strings and numbers we formatted are marshalled
		// here; an error would be a bug, and null is the honest value.
		return ""
	}
	return string(b)
}
