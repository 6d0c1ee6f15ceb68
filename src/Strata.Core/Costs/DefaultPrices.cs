namespace Strata.Costs;

/// <summary>
/// The shipped price table, as the JSON document users override (docs/cost-model.md explains every field).
/// Gathered on 2026-11-22; every provider and class names its source. `strata estimate prices` prints the
/// effective table (defaults merged with the user's file), a starting point for an override file.
/// </summary>
/// <remarks>
/// Kept as a string compiled into Strata.Core so the AOT binary carries it without a resource lookup; it is
/// one JSON document, parsed with the same source-generated reader as a user file.
/// </remarks>
internal static class DefaultPrices
{
    public const string Json = """
{
  "version": 1,
  "providers": {
    "aws-s3": {
      "region": "us-east-1",
      "currency": "USD",
      "warm_class": "STANDARD",
      "source": "AWS data transfer pricing as summarised by 2026 secondary price summaries (PRICES.md)",
      "date": "2026-11-22",
      "egress": {
        "free_multiple_of_stored": 0,
        "tiers": [
          { "up_to_gb": 100, "usd_per_gb": 0 },
          { "up_to_gb": 10240, "usd_per_gb": 0.09 },
          { "up_to_gb": 51200, "usd_per_gb": 0.085 },
          { "up_to_gb": 153600, "usd_per_gb": 0.07 },
          { "usd_per_gb": 0.05 }
        ]
      },
      "classes": {
        "STANDARD": {
          "storage": [
            { "up_to_gb": 51200, "usd_per_gb": 0.023 },
            { "up_to_gb": 512000, "usd_per_gb": 0.022 },
            { "usd_per_gb": 0.021 }
          ],
          "put_per_1000": 0.005, "get_per_1000": 0.0004, "list_per_1000": 0.005,
          "read_usd_per_gb": 0, "minimum_days": 0, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "AWS S3 user guide (storage-class-intro) and 2026 secondary price summaries",
          "date": "2026-11-22"
        },
        "STANDARD_IA": {
          "storage": [ { "usd_per_gb": 0.0125 } ],
          "put_per_1000": 0.01, "get_per_1000": 0.001, "list_per_1000": 0.01,
          "read_usd_per_gb": 0.01, "minimum_days": 30, "minimum_billable_bytes": 131072,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "AWS S3 user guide (storage-class-intro) and 2026 secondary price summaries",
          "date": "2026-11-22"
        },
        "ONEZONE_IA": {
          "storage": [ { "usd_per_gb": 0.01 } ],
          "put_per_1000": 0.01, "get_per_1000": 0.001, "list_per_1000": 0.01,
          "read_usd_per_gb": 0.01, "minimum_days": 30, "minimum_billable_bytes": 131072,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "AWS S3 user guide (storage-class-intro) and 2026 secondary price summaries",
          "date": "2026-11-22"
        },
        "GLACIER_IR": {
          "storage": [ { "usd_per_gb": 0.004 } ],
          "put_per_1000": 0.02, "get_per_1000": 0.01, "list_per_1000": 0.02,
          "read_usd_per_gb": 0.03, "minimum_days": 90, "minimum_billable_bytes": 131072,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "AWS S3 user guide (storage-class-intro) and 2026 secondary price summaries",
          "date": "2026-11-22"
        },
        "GLACIER": {
          "storage": [ { "usd_per_gb": 0.0036 } ],
          "put_per_1000": 0.03, "get_per_1000": 0.0004, "list_per_1000": 0.03,
          "read_usd_per_gb": 0, "minimum_days": 90, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 8192, "overhead_class_bytes": 32768,
          "thaw": [
            { "tier": "expedited", "usd_per_gb": 0.03, "usd_per_1000": 10, "fastest_hours": 0.0167, "slowest_hours": 0.0833 },
            { "tier": "standard", "usd_per_gb": 0.01, "usd_per_1000": 0.05, "fastest_hours": 3, "slowest_hours": 5 },
            { "tier": "bulk", "usd_per_gb": 0, "usd_per_1000": 0.025, "fastest_hours": 5, "slowest_hours": 12 }
          ],
          "source": "AWS S3 user guide (storage-class-intro, archival-storage, object-archival), AWS re:Post s3-manage-data-retrieval, 2026 secondary price summaries",
          "date": "2026-11-22"
        },
        "DEEP_ARCHIVE": {
          "storage": [ { "usd_per_gb": 0.00099 } ],
          "put_per_1000": 0.05, "get_per_1000": 0.0004, "list_per_1000": 0.05,
          "read_usd_per_gb": 0, "minimum_days": 180, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 8192, "overhead_class_bytes": 32768,
          "thaw": [
            { "tier": "standard", "usd_per_gb": 0.02, "usd_per_1000": 0.10, "fastest_hours": 0, "slowest_hours": 12 },
            { "tier": "bulk", "usd_per_gb": 0.0025, "usd_per_1000": 0.025, "fastest_hours": 0, "slowest_hours": 48 }
          ],
          "source": "AWS S3 user guide (storage-class-intro, archival-storage, object-archival), AWS re:Post s3-manage-data-retrieval, 2026 secondary price summaries (PUT: 0.05 chosen over one summary's 0.03)",
          "date": "2026-11-22"
        }
      }
    },
    "backblaze-b2": {
      "region": "any",
      "currency": "USD",
      "warm_class": "STANDARD",
      "source": "Backblaze B2 pricing as summarised in PRICES.md: downloads free up to 3x the stored amount per month, then $0.01/GB",
      "date": "2026-11-22",
      "egress": {
        "free_multiple_of_stored": 3,
        "tiers": [ { "usd_per_gb": 0.01 } ]
      },
      "classes": {
        "STANDARD": {
          "storage": [ { "usd_per_gb": 0.006 } ],
          "put_per_1000": 0, "get_per_1000": 0.0004, "list_per_1000": 0.004,
          "read_usd_per_gb": 0, "minimum_days": 0, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "Backblaze B2 pricing as summarised in PRICES.md (class A free, class B $0.004 per 10,000, class C $0.004 per 1,000)",
          "date": "2026-11-22"
        }
      }
    },
    "azure-blob": {
      "region": "eastus (LRS)",
      "currency": "USD",
      "warm_class": "Hot",
      "source": "egress not in PRICES.md: AWS's internet egress tiers used as a stand-in; override when you know your rate",
      "date": "2026-11-22",
      "egress": {
        "free_multiple_of_stored": 0,
        "tiers": [
          { "up_to_gb": 100, "usd_per_gb": 0 },
          { "up_to_gb": 10240, "usd_per_gb": 0.09 },
          { "up_to_gb": 51200, "usd_per_gb": 0.085 },
          { "up_to_gb": 153600, "usd_per_gb": 0.07 },
          { "usd_per_gb": 0.05 }
        ]
      },
      "classes": {
        "Hot": {
          "storage": [ { "usd_per_gb": 0.021 } ],
          "put_per_1000": 0.005, "get_per_1000": 0.0004, "list_per_1000": 0.005,
          "read_usd_per_gb": 0, "minimum_days": 0, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "approximate Azure Blob LRS East US range ~0.018-0.021 (PRICES.md), higher value; request prices not in PRICES.md: AWS STANDARD's used as a stand-in",
          "date": "2026-11-22"
        },
        "Cool": {
          "storage": [ { "usd_per_gb": 0.015 } ],
          "put_per_1000": 0.01, "get_per_1000": 0.001, "list_per_1000": 0.01,
          "read_usd_per_gb": 0.01, "minimum_days": 30, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "approximate Azure Blob LRS East US range ~0.010-0.015 (PRICES.md), higher value; request prices not in PRICES.md: AWS STANDARD_IA's used as a stand-in",
          "date": "2026-11-22"
        },
        "Cold": {
          "storage": [ { "usd_per_gb": 0.0045 } ],
          "put_per_1000": 0.02, "get_per_1000": 0.01, "list_per_1000": 0.02,
          "read_usd_per_gb": 0.03, "minimum_days": 90, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "approximate Azure Blob LRS East US range ~0.0036-0.0045 (PRICES.md), higher value; request prices not in PRICES.md: AWS GLACIER_IR's used as a stand-in",
          "date": "2026-11-22"
        },
        "Archive": {
          "storage": [ { "usd_per_gb": 0.002 } ],
          "put_per_1000": 0.05, "get_per_1000": 0.0004, "list_per_1000": 0.05,
          "read_usd_per_gb": 0, "minimum_days": 180, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "thaw": [
            { "tier": "expedited", "usd_per_gb": 0.2, "usd_per_1000": 5, "fastest_hours": 0, "slowest_hours": 1 },
            { "tier": "standard", "usd_per_gb": 0.02, "usd_per_1000": 0.5, "fastest_hours": 0, "slowest_hours": 15 }
          ],
          "source": "approximate Azure Blob LRS East US range ~0.00099-0.002 (PRICES.md), higher value; rehydrate ~$0.02/GB + ~$5 per 10,000 (standard, up to 15 h), high priority ~10x (under 1 h); PUT/GET not in PRICES.md: AWS DEEP_ARCHIVE's used as a stand-in",
          "date": "2026-11-22"
        }
      }
    },
    "local": {
      "region": "local",
      "currency": "USD",
      "warm_class": "local",
      "source": "a plain local folder costs nothing per request or per GB",
      "date": "2026-11-22",
      "egress": { "free_multiple_of_stored": 0, "tiers": [ { "usd_per_gb": 0 } ] },
      "classes": {
        "local": {
          "storage": [ { "usd_per_gb": 0 } ],
          "put_per_1000": 0, "get_per_1000": 0, "list_per_1000": 0,
          "read_usd_per_gb": 0, "minimum_days": 0, "minimum_billable_bytes": 0,
          "overhead_warm_bytes": 0, "overhead_class_bytes": 0,
          "source": "a plain local folder costs nothing",
          "date": "2026-11-22"
        }
      }
    }
  }
}
""";
}
